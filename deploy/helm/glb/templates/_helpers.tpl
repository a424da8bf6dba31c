{{/* The chart's name. */}}
{{- define "glb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every resource name. */}}
{{- define "glb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "glb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "glb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels: (dict "root" $ "component" "glbd"). */}}
{{- define "glb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "glb.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "glb.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "glb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "glb.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The etcd flags of glbd and glbprobe: (dict "root" $ "user" "..." "passwordSecret" "...").
*/}}
{{- define "glb.etcdArgs" -}}
{{- $e := .root.Values.etcd -}}
- -etcd-endpoints={{ required "etcd.endpoints: the etcd client URLs are required" $e.endpoints | join "," }}
- -prefix={{ $e.prefix }}
{{- if $e.tlsSecret }}
- -etcd-cacert=/etc/glb/etcd-tls/ca.crt
{{- if $e.clientCert }}
- -etcd-cert=/etc/glb/etcd-tls/tls.crt
- -etcd-key=/etc/glb/etcd-tls/tls.key
{{- end }}
{{- end }}
{{- if .user }}
- -etcd-user={{ .user }}
{{- end }}
{{- if .passwordSecret }}
- -etcd-password-file=/etc/glb/etcd-password/password
{{- end }}
{{- end -}}

{{/* The etcd volume mounts: (dict "root" $ "passwordSecret" "..."). */}}
{{- define "glb.etcdMounts" -}}
{{- if .root.Values.etcd.tlsSecret }}
- name: etcd-tls
  mountPath: /etc/glb/etcd-tls
  readOnly: true
{{- end }}
{{- if .passwordSecret }}
- name: etcd-password
  mountPath: /etc/glb/etcd-password
  readOnly: true
{{- end }}
{{- end -}}

{{/* The etcd volumes: (dict "root" $ "passwordSecret" "..."). */}}
{{- define "glb.etcdVolumes" -}}
{{- if .root.Values.etcd.tlsSecret }}
- name: etcd-tls
  secret:
    secretName: {{ .root.Values.etcd.tlsSecret }}
    defaultMode: 0440
{{- end }}
{{- if .passwordSecret }}
- name: etcd-password
  secret:
    secretName: {{ .passwordSecret }}
    defaultMode: 0440
    items:
      - key: password
        path: password
{{- end }}
{{- end -}}

{{/* The URL scheme of glbd's HTTP listener. */}}
{{- define "glb.httpScheme" -}}
{{- if .Values.glbd.http.tlsSecret }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/*
A geoipupdate container (after its name): (dict "root" $ "frequency" hours);
frequency 0 runs it once.
*/}}
{{- define "glb.geoipupdate" -}}
{{- $u := .root.Values.geoip.update -}}
image: {{ $u.image }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
env:
  - name: GEOIPUPDATE_EDITION_IDS
    value: {{ $u.editionIDs | quote }}
  - name: GEOIPUPDATE_DB_DIR
    value: /var/lib/GeoIP
  {{- if .frequency }}
  - name: GEOIPUPDATE_FREQUENCY
    value: {{ .frequency | quote }}
  {{- end }}
envFrom:
  - secretRef:
      name: {{ required "geoip.update.secret: a Secret with GEOIPUPDATE_ACCOUNT_ID and GEOIPUPDATE_LICENSE_KEY is required" $u.secret }}
securityContext:
  readOnlyRootFilesystem: true
  allowPrivilegeEscalation: false
  capabilities:
    drop: [ALL]
resources:
  {{- toYaml $u.resources | nindent 2 }}
volumeMounts:
  - name: geoip
    mountPath: /var/lib/GeoIP
  - name: tmp
    mountPath: /tmp
{{- end -}}
