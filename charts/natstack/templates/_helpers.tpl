{{/* Chart name, overridable. */}}
{{- define "natstack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the operator's objects. A release named like the chart is not
repeated ("natstack", not "natstack-natstack").
*/}}
{{- define "natstack.fullname" -}}
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

{{/* Labels on every object of the release, including the CRD and the sample stack. */}}
{{- define "natstack.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: natstack
{{- end }}

{{/* Labels of the operator's own objects. */}}
{{- define "natstack.labels" -}}
{{ include "natstack.commonLabels" . }}
app.kubernetes.io/name: {{ include "natstack.name" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Selector labels: stable across upgrades (Deployment selectors are immutable). */}}
{{- define "natstack.selectorLabels" -}}
app.kubernetes.io/name: {{ include "natstack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "natstack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "natstack.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "natstack.image" -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
RBAC scope: a Role in the watched namespace when there is one, a
ClusterRole otherwise.
*/}}
{{- define "natstack.rbacKind" -}}
{{- if .Values.watchNamespace }}Role{{ else }}ClusterRole{{ end }}
{{- end }}
