{{/*
The operator's RBAC rules, split by where they must be granted. No wildcards anywhere.
Why each verb: `get/list/watch` feed kopf's watches and the informers; `patch` is server-side apply (a real
API server authorises an apply that creates the object as `create`, hence `create` next to it); `delete`
removes children that are no longer rendered. tests/chart/test_rbac_e2e.py checks these rules against
the requests the operator really makes.
*/}}

{{/* Rules that only a ClusterRole can grant: cluster-scoped kinds, and kinds in namespaces the operator creates. */}}
{{- define "finplane.operator.clusterRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- /* Finplane only watches its CRs (no finalizers, no kopf annotations) and writes their /status. */}}
- apiGroups: [finplane.io]
  resources: [channels, tenantsandboxes, imageregistries, compliancepolicies]
  verbs: [get, list, watch]
- apiGroups: [finplane.io]
  resources: [channels/status, tenantsandboxes/status, imageregistries/status, compliancepolicies/status]
  verbs: [patch]
{{- if not .Values.watchNamespaces }}
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [list, watch, patch]
{{- end }}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch{{ if .Values.features.sandboxes }}, create, patch, delete{{ end }}]
{{- /* kopf posts events of cluster-scoped objects into the "default" namespace; children may be in any. */}}
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- /* ImageRegistries write pull secrets into every selected namespace and patch its ServiceAccounts;
       sandboxes write their credential Secret into the namespace they create: both are cluster-wide. */}}
- apiGroups: [""]
  resources: [secrets, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
{{- if .Values.features.sandboxes }}
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
{{- /* Members are bound to the chart's sandbox-member ClusterRole: `bind` on that one name lets the operator
       create the RoleBinding without holding the members' permissions itself (no `escalate`). */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs: [bind]
  resourceNames: [{{ include "finplane.sandboxMemberRoleName" . }}]
{{- end }}
{{- if .Values.features.admissionPolicies }}
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingadmissionpolicies, validatingadmissionpolicybindings]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.features.policyReports }}
- apiGroups: [wgpolicyk8s.io]
  resources: [clusterpolicyreports]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- end }}

{{/* Rules for the namespaces a BusinessCapability lives in: a ClusterRole, or a Role per watched namespace. */}}
{{- define "finplane.operator.namespacedRules" -}}
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
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, delete]
{{- if not .Values.features.sandboxes }}
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- if .Values.features.channels }}
- apiGroups: [networking.k8s.io]
  resources: [ingresses]
  verbs: [get, list, watch, create, patch, delete]
{{- if .Values.features.gatewayApi }}
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- end }}
{{- if .Values.features.policyReports }}
- apiGroups: [wgpolicyk8s.io]
  resources: [policyreports]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
{{- end }}

{{/* The platform API: it reads and writes Finplane CRs only, and reads one named Secret per sandbox. */}}
{{- define "finplane.api.clusterRules" -}}
- apiGroups: [finplane.io]
  resources: [businesscapabilities, channels, tenantsandboxes, imageregistries, compliancepolicies]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [finplane.io]
  resources: [businesscapabilities/status, channels/status, tenantsandboxes/status, imageregistries/status, compliancepolicies/status]
  verbs: [get]
{{- if .Values.features.sandboxes }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  resourceNames: [{{ include "finplane.sandboxCredentialSecretName" . }}]
{{- end }}
{{- end }}
