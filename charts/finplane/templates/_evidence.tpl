{{- /*
The evidence record's storage, shared by every writer (each operator and API pod writes its own signed chain,
chains/<pod name>.jsonl, see docs/compliance.md "Several replicas, one record"):
- finplane.evidenceDir: where the record is mounted in every pod (operator.settings.evidenceDir);
- finplane.evidenceClaim: the PersistentVolumeClaim holding it (evidence.persistence.existingClaim, or the chart's);
- finplane.evidenceKeySecret: the Secret holding the signing key (created by the first pod that starts, see
  evidence-key-rbac.yaml), its public half published in the ConfigMap "<it>-public";
- finplane.evidenceVolume / finplane.evidenceMount / finplane.evidenceEnv: the pod parts, the same in both Deployments.
*/}}
{{- define "finplane.evidenceDir" -}}
{{- .Values.operator.settings.evidenceDir | default "/var/lib/finplane/evidence" -}}
{{- end }}

{{- define "finplane.evidenceClaim" -}}
{{- .Values.evidence.persistence.existingClaim | default (printf "%s-evidence" (include "finplane.fullname" .)) -}}
{{- end }}

{{- define "finplane.evidenceKeySecret" -}}
{{- printf "%s-evidence-key" (include "finplane.fullname" .) -}}
{{- end }}

{{- define "finplane.evidenceVolume" -}}
- name: evidence
  persistentVolumeClaim:
    claimName: {{ include "finplane.evidenceClaim" . }}
{{- end }}

{{- define "finplane.evidenceMount" -}}
- name: evidence
  mountPath: {{ include "finplane.evidenceDir" . }}
{{- end }}

{{- define "finplane.evidenceEnv" -}}
# Every pod writes its own chain of the shared record, named after the pod: replicas never share a file.
- name: FINPLANE_EVIDENCE_WRITER
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
# Every pod signs with the key in this Secret of the release namespace (created by the first pod to start).
- name: FINPLANE_EVIDENCE_KEY_SECRET
  value: {{ printf "%s/%s" .Release.Namespace (include "finplane.evidenceKeySecret" .) }}
{{- end }}
