{{/* Egress every Finplane pod needs: cluster DNS and the Kubernetes API server. */}}
{{- define "finplane.netpol.baseEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
- {{- with .Values.networkPolicy.apiServerCIDRs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
  ports:
    {{- range .Values.networkPolicy.apiServerPorts }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- with .Values.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Ingress to a metrics port from the Prometheus namespace. */}}
{{- define "finplane.netpol.metricsIngress" -}}
- from:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ .ctx.Values.networkPolicy.metricsNamespace }}
  ports:
    - protocol: TCP
      port: {{ .port }}
{{- end }}
