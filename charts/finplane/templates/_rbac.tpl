{{/*
The operator's RBAC rules, split by where they must be granted. No wildcards anywhere.
Why each verb: `get/list/watch` feed kopf's watches and the informers; `patch` is server-side apply (a real
API server authorises an apply that creates the object as `create`, hence `create` next to it); `delete`
removes children that are no longer rendered. tests/chart/test_rbac_e2e.py checks these rules against
the requests the operator really makes.
*/}}

{{/* The operator's rights come in three parts (CIS Kubernetes Benchmark 5.1.2 and 5.1.4: no Secret read and no
workload creation cluster-wide):
- clusterRules, the `<release>-operator` ClusterRole: only what must be cluster-wide. Cluster-scoped kinds, the
  Finplane kinds, Namespaces, and get/list/watch (never a write, never Secrets) of the child kinds kopf watches
  cluster-wide by label (`get` too: a pass reads every child before its first write, the operator's own
  RoleBinding in a new namespace included). Plus the bootstrap of a managed namespace: `create`/`patch` of RoleBindings and
  `bind` on exactly the member ClusterRoles and `<release>-operator-namespaced`.
- watchRules: the BusinessCapability kinds and the reads of their children (cluster-wide, or a Role per
  watched namespace).
- namespacedRules, the `<release>-operator-namespaced` ClusterRole: every workload, guard-rail and Secret write
  and Secret `get`, granted by no ClusterRoleBinding. The chart binds it in its own namespace (and each of
  watchNamespaces); the operator binds it itself, with a RoleBinding applied first, in each team and sandbox
  namespace it manages (render/operator_access.py). A namespace nobody manages gets nothing. */}}

{{- define "finplane.operator.clusterRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- /* Finplane watches its CRs (no finalizers, no kopf annotations) and writes their /status; it re-reads a
       Channel or BusinessCapability after a conflict on the compliance roll-up, and a TenantSandbox before
       writing its teardown report. */}}
- apiGroups: [finplane.io]
  resources: [channels, tenantsandboxes]
  verbs: [get, list, watch]
- apiGroups: [finplane.io]
  resources: [imageregistries, compliancepolicies]
  verbs: [list, watch]
- apiGroups: [finplane.io]
  resources: [channels/status, tenantsandboxes/status, imageregistries/status, compliancepolicies/status]
  verbs: [patch]
{{- /* Teams: watched, their finalizer added and removed (patch), their /status written. */}}
- apiGroups: [finplane.io]
  resources: [teams]
  verbs: [list, watch, patch]
- apiGroups: [finplane.io]
  resources: [teams/status]
  verbs: [patch]
{{- if not .Values.watchNamespaces }}
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
{{- /* Namespaces: watched for registry selectors; patched for Pod Security labels (CompliancePolicy enforce
       mode), by sandboxes, which also create them and delete them at expiry, and by Teams, which create or
       adopt (label) them and delete the empty ones they created when the Team goes. `delete` cannot be narrowed
       by resourceNames (sandbox namespaces are named after sandboxes not yet created; RBAC cannot select by
       label): the operator checks its owner reference / created-by annotation before it deletes one. */}}
{{- $namespaceWriters := or .Values.features.sandboxes .Values.features.teams }}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch{{ if or $namespaceWriters .Values.features.admissionPolicies }}, patch{{ end }}{{ if $namespaceWriters }}, create, delete{{ end }}]
{{- /* kopf posts events of cluster-scoped objects into the "default" namespace; children may be in any.
       Only `create`: neither kopf nor Finplane updates an event (no count aggregation). */}}
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- /* Watched cluster-wide by label (kopf), read only: ImageRegistries watch every ServiceAccount, so one created
       after its namespace was synced is wired at once. No Secrets here: the registry's Secret watch is limited
       to Finplane's own namespace (a Role), pull Secrets elsewhere are read by name (`get`, namespaced role). */}}
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, list, watch]
{{- if $namespaceWriters }}
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
{{- /* The bootstrap of a managed namespace: the operator's own RoleBinding to `<release>-operator-namespaced`
       is its first write there, so creating RoleBindings cannot wait for that binding. */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [get, list, watch, create, patch]
{{- /* Read only: the operator watches Roles it manages (a Role per sandbox when it runs without this chart). */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles]
  verbs: [list, watch]
{{- /* `bind` on exactly these names lets the operator create the RoleBindings without holding the members'
       permissions itself (no `escalate`), and bind its own namespaced role where it manages a namespace. */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs: [bind]
  resourceNames: [{{ include "finplane.operatorNamespacedRoleName" . }}{{ if .Values.features.sandboxes }}, {{ include "finplane.sandboxMemberRoleName" . }}{{ end }}{{ if .Values.features.teams }}, {{ include "finplane.teamMemberRoleName" . }}{{ end }}]
{{- end }}
{{- if .Values.features.admissionPolicies }}
{{- /* Names are derived from CompliancePolicy names, unknown at install: no resourceNames possible. The operator
       deletes only the ones carrying its owner label (accepted and documented in docs/security.md). */}}
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingadmissionpolicies, validatingadmissionpolicybindings]
  verbs: [get, list, create, patch, delete]
{{- end }}
{{- if .Values.features.policyReports }}
- apiGroups: [wgpolicyk8s.io]
  resources: [clusterpolicyreports]
  verbs: [get, list, create, patch, delete]
- apiGroups: [openreports.io]
  resources: [clusterreports]
  verbs: [get, list, create, patch, delete]
{{- end }}
{{- end }}

{{/* The BusinessCapability kinds and the reads kopf's watches need: a ClusterRole, or a Role per watched namespace. */}}
{{- define "finplane.operator.watchRules" -}}
- apiGroups: [finplane.io]
  resources: [businesscapabilities]
  verbs: [get, list, watch]
- apiGroups: [finplane.io]
  resources: [businesscapabilities/status]
  verbs: [patch]
{{- if .Values.watchNamespaces }}
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch]
{{- /* Compliance checks of the Pods and Deployments a policy selects. */}}
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch]
{{- if not (or .Values.features.sandboxes .Values.features.teams) }}
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
{{- end }}
{{- if .Values.features.channels }}
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [get, list, watch]
{{- /* The channel reconciler lists HTTPRoutes it may own (none without the Gateway API CRDs, which a real API
       server answers with 404 only when the request is authorised; else 403) and kopf watches them. */}}
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [{{ if .Values.features.gatewayApi }}get, {{ end }}list, watch]
{{- /* The Envoy Gateway policies and cert-manager objects (partner mTLS) it may own, listed by owner label
       (nothing watches them). */}}
- apiGroups: [gateway.envoyproxy.io]
  resources: [securitypolicies, backendtrafficpolicies, clienttrafficpolicies]
  verbs: [list]
- apiGroups: [cert-manager.io]
  resources: [certificates, issuers]
  verbs: [list]
{{- end }}
{{- end }}

{{/* The `<release>-operator-namespaced` ClusterRole: granted only by RoleBindings, in namespaces Finplane manages. */}}
{{- define "finplane.operator.namespacedRules" -}}
{{- /* Pull Secrets (registries), the partner credential (sandboxes), registry source Secrets (Finplane's own
       namespace): read by name, written, removed. Never list or watch here. */}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, delete]
{{- /* Capabilities apply their own ServiceAccount; registries add their pull Secret to named ones. */}}
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [create, patch]
{{- /* A capability's Service and Deployment are always rendered: applied, never deleted one by one. */}}
- apiGroups: [""]
  resources: [services]
  verbs: [create, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [create, patch]
{{- /* Removed when autoscaling or replicas change. */}}
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [create, patch, delete]
{{- if or .Values.features.sandboxes .Values.features.teams }}
{{- /* A sandbox's or a Team's guard rails; a Team deletes its own from a namespace it no longer lists. */}}
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [create, patch{{ if .Values.features.teams }}, delete{{ end }}]
{{- /* The members' RoleBindings (removed when a sandbox or a Team has no members left). */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [delete]
{{- /* The teardown report lists what a sandbox namespace held (names only). */}}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [list]
{{- end }}
{{- if .Values.features.channels }}
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [create, patch, delete]
{{- if .Values.features.gatewayApi }}
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [create, patch, delete]
{{- /* Envoy Gateway's policies beside each HTTPRoute: authentication, partner API keys, rate limits (read by
       name and applied here; listed by owner label cluster-wide, in watchRules). */}}
- apiGroups: [gateway.envoyproxy.io]
  resources: [securitypolicies, backendtrafficpolicies, clienttrafficpolicies]
  verbs: [get, create, patch, delete]
{{- /* Partner mTLS (render.gateway_mtls): the listener's server certificate, the partner CA and its Issuer. */}}
- apiGroups: [cert-manager.io]
  resources: [certificates, issuers]
  verbs: [get, create, patch, delete]
{{- end }}
{{- end }}
{{- if .Values.features.policyReports }}
- apiGroups: [wgpolicyk8s.io]
  resources: [policyreports]
  verbs: [get, list, create, patch, delete]
- apiGroups: [openreports.io]
  resources: [reports]
  verbs: [get, list, create, patch, delete]
{{- end }}
{{- /* spec.slo of a capability: its ServiceMonitor and PrometheusRule (render.slo), when those CRDs are served. */}}
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, prometheusrules]
  verbs: [get, list, create, patch, delete]
{{- end }}

{{/* Finplane's own namespace only: the registry reconciler watches the source Secrets of static registries there. */}}
{{- define "finplane.operator.homeRules" -}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [list, watch]
{{- end }}

{{/* The platform API: it reads and writes Finplane CRs only, and reads two named Secrets per sandbox (its credential, its production key). */}}
{{- define "finplane.api.clusterRules" -}}
- apiGroups: [finplane.io]
  resources: [businesscapabilities, channels, tenantsandboxes, imageregistries, compliancepolicies]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [finplane.io]
  resources: [businesscapabilities/status, channels/status, tenantsandboxes/status, imageregistries/status, compliancepolicies/status]
  verbs: [get]
{{- /* Teams are read (GET /teams, the IdP group -> team mapping), never written by the API. */}}
- apiGroups: [finplane.io]
  resources: [teams]
  verbs: [get, list, watch]
{{- /* The compliance routes read results from the API's informers, which list and watch PolicyReports and
       ClusterPolicyReports whoever writes them (the operator with features.policyReports, or another tool):
       without this the API never becomes ready under RBAC (tests/chart/test_rbac_enforced_e2e.py). */}}
- apiGroups: [wgpolicyk8s.io]
  resources: [policyreports, clusterpolicyreports]
  verbs: [list, watch]
{{- /* The portal shows a capability's recent events and drift: the API's events informer lists and watches
       Events in every namespace (field-selected to those about Finplane kinds; RBAC cannot select fields).
       Read only: the API never writes an Event, and without this right it stays ready, without events. */}}
- apiGroups: [""]
  resources: [events]
  verbs: [list, watch]
{{- if .Values.features.sandboxes }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  resourceNames: [{{ include "finplane.sandboxCredentialSecretName" . }}, {{ include "finplane.productionCredentialSecretName" . }}]
{{- end }}
{{- end }}
