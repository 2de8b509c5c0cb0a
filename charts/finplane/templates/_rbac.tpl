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
       adopt (label) them and delete the empty ones they created when the Team goes. */}}
{{- $namespaceWriters := or .Values.features.sandboxes .Values.features.teams }}
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch{{ if or $namespaceWriters .Values.features.admissionPolicies }}, patch{{ end }}{{ if $namespaceWriters }}, create, delete{{ end }}]
{{- /* kopf posts events of cluster-scoped objects into the "default" namespace; children may be in any.
       Only `create`: neither kopf nor Finplane updates an event (no count aggregation). */}}
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- /* ImageRegistries watch Secrets (a static registry re-syncs when its source Secret changes), write pull
       Secrets into every selected namespace and remove them from namespaces that no longer need them;
       sandboxes write their credential Secret into the namespace they create: both are cluster-wide. */}}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
{{- /* ImageRegistries add their pull Secret to the named ServiceAccounts (a merge patch, keeping other entries)
       and watch every ServiceAccount, so one created after its namespace was synced is wired at once;
       capabilities apply their own ServiceAccount. Nothing deletes one (garbage collection does). */}}
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, list, watch, create, patch]
{{- if or .Values.features.sandboxes .Values.features.teams }}
{{- /* A sandbox's or a Team's guard rails; a Team deletes its own from a namespace it no longer lists. */}}
- apiGroups: [""]
  resources: [resourcequotas, limitranges]
  verbs: [get, list, watch, create, patch{{ if .Values.features.teams }}, delete{{ end }}]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
{{- /* The members' RoleBindings (removed when a sandbox or a Team has no members left). */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [rolebindings]
  verbs: [get, list, watch, create, patch, delete]
{{- /* Read only: the operator watches Roles it manages (a Role per sandbox when it runs without this chart) and
       the teardown report lists what a sandbox namespace held; with the chart it writes no Role. */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [list]
{{- /* Members are bound to the chart's sandbox-member and team-member ClusterRoles: `bind` on those names lets the
       operator create the RoleBindings without holding the members' permissions itself (no `escalate`). */}}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs: [bind]
  resourceNames: [{{ if .Values.features.sandboxes }}{{ include "finplane.sandboxMemberRoleName" . }}{{ end }}{{ if and .Values.features.sandboxes .Values.features.teams }}, {{ end }}{{ if .Values.features.teams }}{{ include "finplane.teamMemberRoleName" . }}{{ end }}]
{{- end }}
{{- if .Values.features.admissionPolicies }}
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingadmissionpolicies, validatingadmissionpolicybindings]
  verbs: [get, list, create, patch, delete]
{{- end }}
{{- if .Values.features.policyReports }}
- apiGroups: [wgpolicyk8s.io]
  resources: [clusterpolicyreports]
  verbs: [get, list, create, patch, delete]
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
{{- /* A capability's Service and Deployment are always rendered: applied, never deleted one by one. */}}
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
{{- /* Compliance checks of the Pods and Deployments a policy selects. */}}
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
{{- /* Removed when autoscaling or replicas change. */}}
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
{{- /* Envoy Gateway's policies beside each HTTPRoute: authentication, partner API keys, rate limits (listed
       by owner label and applied; nothing watches them). */}}
- apiGroups: [gateway.envoyproxy.io]
  resources: [securitypolicies, backendtrafficpolicies]
  verbs: [get, list, create, patch, delete]
{{- else }}
{{- /* Read only: the channel reconciler still lists HTTPRoutes it may own (none without the Gateway API CRDs,
       which a real API server answers with 404 only when the request is authorised; else 403) and kopf
       watches them when the CRDs exist. It never writes one (a gateway backend is then refused by RBAC). */}}
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [list, watch]
- apiGroups: [gateway.envoyproxy.io]
  resources: [securitypolicies, backendtrafficpolicies]
  verbs: [list]
{{- end }}
{{- end }}
{{- if .Values.features.policyReports }}
- apiGroups: [wgpolicyk8s.io]
  resources: [policyreports]
  verbs: [get, list, create, patch, delete]
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
{{- if .Values.features.sandboxes }}
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  resourceNames: [{{ include "finplane.sandboxCredentialSecretName" . }}]
{{- end }}
{{- end }}
