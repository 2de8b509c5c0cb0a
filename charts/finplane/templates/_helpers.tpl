{{/* Names, labels and shared snippets of the Finplane chart. */}}

{{- define "finplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object name: the release name, plus the chart name unless it already contains it. */}}
{{- define "finplane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "finplane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object (the app.kubernetes.io convention). */}}
{{- define "finplane.labels" -}}
helm.sh/chart: {{ include "finplane.chart" . }}
app.kubernetes.io/name: {{ include "finplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: finplane
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (operator or api); call with (dict "ctx" $ "component" "operator"). */}}
{{- define "finplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "finplane.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "finplane.componentLabels" -}}
{{ include "finplane.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "finplane.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (printf "%s-operator" (include "finplane.fullname" .)) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "finplane.api.serviceAccountName" -}}
{{- if .Values.api.serviceAccount.create }}
{{- default (printf "%s-api" (include "finplane.fullname" .)) .Values.api.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.api.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "finplane.peeringName" -}}
{{- default (include "finplane.fullname" .) .Values.operator.peering.name }}
{{- end }}

{{/* The partner credential Secret of every sandbox: a fixed name, finplane.SANDBOX_CREDENTIAL_SECRET in the code
     (the operator writes it, the API reads it); tests/chart/test_chart_sandbox_rbac.py keeps the two equal. */}}
{{- define "finplane.sandboxCredentialSecretName" -}}
partner-api-credential
{{- end }}

{{/* A promoted partner's production key as delivered into its sandbox's namespace (the API hands it out once):
     finplane.models.tenant_sandbox_promotion.PRODUCTION_CREDENTIAL_SECRET, kept equal by the same test. */}}
{{- define "finplane.productionCredentialSecretName" -}}
partner-production-credential
{{- end }}

{{- define "finplane.operatorNamespacedRoleName" -}}
{{- printf "%s-operator-namespaced" (include "finplane.fullname" .) }}
{{- end }}

{{- define "finplane.sandboxMemberRoleName" -}}
{{- printf "%s-sandbox-member" (include "finplane.fullname" .) }}
{{- end }}

{{/* The ClusterRole a Team's owners and members are bound to in its namespaces. */}}
{{- define "finplane.teamMemberRoleName" -}}
{{- printf "%s-team-member" (include "finplane.fullname" .) }}
{{- end }}

{{/* The image reference: a digest wins over a tag; the tag defaults to the appVersion. */}}
{{- define "finplane.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Settings map -> environment variables: camelCase key -> PREFIX + SNAKE_CASE. Strings stay as they are;
     numbers, booleans, maps and lists are written as JSON (which pydantic-settings parses; JSON also keeps
     large integers out of Go's exponent notation). Null values are left out. */}}
{{- define "finplane.settingsEnv" -}}
{{- $prefix := .prefix }}
{{- range $key, $value := .settings }}
{{- if not (kindIs "invalid" $value) }}
{{ printf "%s%s" $prefix (snakecase $key | upper) }}: {{ if kindIs "string" $value }}{{ $value | quote }}{{ else }}{{ toJson $value | quote }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Default topology spread: prefer different zones and nodes, never block scheduling. */}}
{{- define "finplane.topologySpread" -}}
{{- if .constraints }}
{{- toYaml .constraints }}
{{- else }}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "finplane.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "finplane.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end }}
{{- end }}

{{- define "finplane.imagePullPolicy" -}}
{{- if .Values.image.pullPolicy }}{{ .Values.image.pullPolicy }}{{ else if .Values.image.digest }}IfNotPresent{{ else }}Always{{ end }}
{{- end }}
