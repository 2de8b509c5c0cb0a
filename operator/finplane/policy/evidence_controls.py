"""Which regulatory controls each rule of the library gives evidence for: the OSCAL export's mapping.

Pure table, read by `evidence_oscal` (every finding names its controls; the reviewed controls are
their union) and docs/compliance.md (checked by a test). Three frameworks: DORA (Regulation (EU)
2022/2554, by article), PCI DSS v4.0 (by requirement) and ISO/IEC 27001:2022 Annex A (by control).
A control id is an OSCAL token: `dora-art-9`, `pci-dss-4.0-1.3`, `iso-27001-2022-a.8.22`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONTROLS", "RULE_CONTROLS", "Control", "controls_for"]


@dataclass(frozen=True)
class Control:
    id: str
    framework: str
    reference: str  # as the framework writes it
    title: str


_ALL = [
    Control("dora-art-7", "DORA", "Article 7", "ICT systems, protocols and tools (capacity, resilience)"),
    Control("dora-art-8", "DORA", "Article 8", "Identification of ICT assets and their dependencies"),
    Control("dora-art-9", "DORA", "Article 9", "Protection and prevention"),
    Control("dora-art-11", "DORA", "Article 11", "Response and recovery (business continuity)"),
    Control("dora-art-28", "DORA", "Article 28", "Management of ICT third-party risk"),
    Control("pci-dss-4.0-1.2", "PCI DSS 4.0", "Requirement 1.2", "Network security controls are configured"),
    Control("pci-dss-4.0-1.3", "PCI DSS 4.0", "Requirement 1.3",
            "Network access to and from the cardholder data environment is restricted"),
    Control("pci-dss-4.0-1.4", "PCI DSS 4.0", "Requirement 1.4",
            "Network connections between trusted and untrusted networks are controlled"),
    Control("pci-dss-4.0-2.2", "PCI DSS 4.0", "Requirement 2.2", "System components are configured securely"),
    Control("pci-dss-4.0-6.3", "PCI DSS 4.0", "Requirement 6.3",
            "Security vulnerabilities are identified and addressed (software inventory, 6.3.2)"),
    Control("pci-dss-4.0-7.2", "PCI DSS 4.0", "Requirement 7.2", "Access is appropriately defined and assigned"),
    Control("pci-dss-4.0-8.2", "PCI DSS 4.0", "Requirement 8.2",
            "User identification and accounts are managed (inactive accounts removed, 8.2.6)"),
    Control("pci-dss-4.0-12.5", "PCI DSS 4.0", "Requirement 12.5", "PCI DSS scope is documented (inventory, 12.5.1)"),
    Control("pci-dss-4.0-12.8", "PCI DSS 4.0", "Requirement 12.8", "Risk to information assets from third-party "
                                                                   "service provider relationships is managed"),
    Control("iso-27001-2022-a.5.9", "ISO/IEC 27001:2022", "A.5.9", "Inventory of information and other associated "
                                                                   "assets"),
    Control("iso-27001-2022-a.5.12", "ISO/IEC 27001:2022", "A.5.12", "Classification of information"),
    Control("iso-27001-2022-a.5.18", "ISO/IEC 27001:2022", "A.5.18", "Access rights"),
    Control("iso-27001-2022-a.5.19", "ISO/IEC 27001:2022", "A.5.19", "Information security in supplier relationships"),
    Control("iso-27001-2022-a.5.21", "ISO/IEC 27001:2022", "A.5.21",
            "Managing information security in the ICT supply chain"),
    Control("iso-27001-2022-a.8.2", "ISO/IEC 27001:2022", "A.8.2", "Privileged access rights"),
    Control("iso-27001-2022-a.8.6", "ISO/IEC 27001:2022", "A.8.6", "Capacity management"),
    Control("iso-27001-2022-a.8.9", "ISO/IEC 27001:2022", "A.8.9", "Configuration management"),
    Control("iso-27001-2022-a.8.14", "ISO/IEC 27001:2022", "A.8.14", "Redundancy of information processing "
                                                                     "facilities"),
    Control("iso-27001-2022-a.8.19", "ISO/IEC 27001:2022", "A.8.19", "Installation of software on operational "
                                                                     "systems"),
    Control("iso-27001-2022-a.8.20", "ISO/IEC 27001:2022", "A.8.20", "Networks security"),
    Control("iso-27001-2022-a.8.22", "ISO/IEC 27001:2022", "A.8.22", "Segregation of networks"),
    Control("iso-27001-2022-a.8.32", "ISO/IEC 27001:2022", "A.8.32", "Change management"),
]
CONTROLS: dict[str, Control] = {c.id: c for c in _ALL}

RULE_CONTROLS: dict[str, tuple[str, ...]] = {
    "allowed-registries": ("dora-art-9", "dora-art-28", "pci-dss-4.0-6.3", "pci-dss-4.0-2.2",
                           "iso-27001-2022-a.5.21", "iso-27001-2022-a.8.19"),
    "image-digest-pinned": ("dora-art-9", "pci-dss-4.0-6.3", "iso-27001-2022-a.8.19", "iso-27001-2022-a.8.32"),
    "no-latest-tag": ("dora-art-9", "pci-dss-4.0-6.3", "iso-27001-2022-a.8.32"),
    "run-as-non-root": ("dora-art-9", "pci-dss-4.0-2.2", "pci-dss-4.0-7.2", "iso-27001-2022-a.8.2",
                        "iso-27001-2022-a.8.9"),
    "no-privilege-escalation": ("dora-art-9", "pci-dss-4.0-2.2", "pci-dss-4.0-7.2", "iso-27001-2022-a.8.2"),
    "read-only-root-filesystem": ("dora-art-9", "pci-dss-4.0-2.2", "iso-27001-2022-a.8.9"),
    "resource-limits-set": ("dora-art-7", "pci-dss-4.0-2.2", "iso-27001-2022-a.8.6"),
    "default-deny-network": ("dora-art-9", "pci-dss-4.0-1.2", "pci-dss-4.0-1.3", "iso-27001-2022-a.8.20",
                             "iso-27001-2022-a.8.22"),
    "data-classification-isolation": ("dora-art-9", "pci-dss-4.0-1.3", "pci-dss-4.0-1.4", "iso-27001-2022-a.5.12",
                                      "iso-27001-2022-a.8.22"),
    "minimum-replicas": ("dora-art-7", "dora-art-11", "iso-27001-2022-a.8.14"),
    "owner-labels-present": ("dora-art-8", "pci-dss-4.0-12.5", "iso-27001-2022-a.5.9"),
    "sandbox-max-lifetime": ("dora-art-28", "pci-dss-4.0-8.2", "pci-dss-4.0-12.8", "iso-27001-2022-a.5.18",
                             "iso-27001-2022-a.5.19"),
    "sandbox-quota-present": ("dora-art-7", "dora-art-28", "pci-dss-4.0-12.8", "iso-27001-2022-a.5.19",
                              "iso-27001-2022-a.8.6"),
}


def controls_for(rule: str) -> list[Control]:
    """The controls `rule` gives evidence for ([] for a rule this table does not know)."""
    return [CONTROLS[c] for c in RULE_CONTROLS.get(rule, ())]
