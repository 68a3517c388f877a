{{/* Chart name, cut to 63 characters (a DNS label). */}}
{{- define "rhdemo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name when it already contains the chart name, else
<release>-<chart>; cut to 63 characters.
*/}}
{{- define "rhdemo.fullname" -}}
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

{{- define "rhdemo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "rhdemo.labels" -}}
helm.sh/chart: {{ include "rhdemo.chart" . }}
{{ include "rhdemo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.rhdemo.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels: stable across upgrades. */}}
{{- define "rhdemo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rhdemo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The image reference, repository:tag exactly as given, pinned as repository:tag@digest
when a digest is set (stagingkub always sets it: a re-pushed tag then rolls the pods).
*/}}
{{- define "rhdemo.image" -}}
{{- $reference := printf "%s:%s" .Values.rhdemo.image.repository (toString .Values.rhdemo.image.tag) }}
{{- with .Values.rhdemo.image.digest }}
{{- $reference = printf "%s@%s" $reference . }}
{{- end }}
{{- $reference }}
{{- end }}
