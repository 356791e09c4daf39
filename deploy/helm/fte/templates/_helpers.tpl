{{/* Names and labels. */}}
{{- define "fte.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fte.fullname" -}}
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

{{- define "fte.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "fte.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fte
{{- end }}

{{/* selector labels of one service: (dict "root" $ "service" "agent-worker") */}}
{{- define "fte.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fte.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{- define "fte.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "fte.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fte.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fte.secretName" -}}
{{- default (printf "%s-secrets" (include "fte.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The four services: their values key, whether they consume (and so get
KEDA), their input topics (PLAN10 contracts; prefixed by kafka.topicPrefix)
and the secret keys each one reads.
*/}}
{{- define "fte.serviceTable" -}}
webhook-gateway:
  key: webhookGateway
  consumer: false
  topics: []
  secrets: [FTE_TWILIO_AUTH_TOKEN, FTE_TWILIO_AUTH_TOKEN_PREVIOUS]
  google: false
channel-normalizer:
  key: channelNormalizer
  consumer: true
  topics: [fte.channels.webform.inbound, fte.channels.whatsapp.inbound, fte.channels.email.inbound]
  secrets: [FTE_DATABASE_URL, FTE_GMAIL_CLIENT_SECRET, FTE_GMAIL_REFRESH_TOKEN]
  google: true
agent-worker:
  key: agentWorker
  consumer: true
  topics: [fte.tickets.incoming]
  secrets: [FTE_DATABASE_URL, FTE_TWILIO_AUTH_TOKEN, FTE_GMAIL_CLIENT_SECRET, FTE_GMAIL_REFRESH_TOKEN, FTE_EMBEDDINGS_API_KEY, FTE_LLM_API_KEY]
  google: true
escalation:
  key: escalation
  consumer: true
  topics: [fte.escalations]
  secrets: [FTE_DATABASE_URL, FTE_OIDC_CLIENT_SECRET]
  google: false
{{- end }}

{{/* The Google key file is mounted when there is one. */}}
{{- define "fte.hasGoogleServiceAccount" -}}
{{- if .Values.secrets.existingSecret }}{{ if .Values.secrets.googleServiceAccountInExistingSecret }}true{{ end }}
{{- else if .Values.secrets.googleServiceAccountJson }}true{{ end }}
{{- end }}

{{/*
Plain FTE_* settings of one service: (dict "root" $ "service" NAME "svc"
TABLE-ENTRY). Its own config wins over the global one; the chart's derived
settings come last. Null and empty values are left out (unset).
*/}}
{{- define "fte.serviceConfig" -}}
{{- $root := .root }}
{{- $v := index $root.Values .svc.key }}
{{- $cfg := merge (deepCopy ($v.config | default dict)) (deepCopy ($root.Values.config | default dict)) }}
{{- $_ := set $cfg "FTE_KAFKA_BOOTSTRAP" $root.Values.kafka.bootstrap }}
{{- $_ := set $cfg "FTE_TOPIC_PREFIX" $root.Values.kafka.topicPrefix }}
{{- $_ := set $cfg "FTE_ADMIN_ADDR" (printf "0.0.0.0:%v" $v.adminPort) }}
{{- if $v.httpPort }}
{{- $_ := set $cfg "FTE_HTTP_ADDR" (printf "0.0.0.0:%v" $v.httpPort) }}
{{- end }}
{{- if .svc.consumer }}
{{- $_ := set $cfg "FTE_CONSUMER_GROUP" $v.consumerGroup }}
{{- end }}
{{- if and .svc.google (include "fte.hasGoogleServiceAccount" $root) }}
{{- $_ := set $cfg "FTE_GOOGLE_SERVICE_ACCOUNT_FILE" "/var/run/secrets/fte/google/service-account.json" }}
{{- end }}
{{- $cfg = merge $cfg (include "fte.kafkaConfig" $root | fromYaml) }}
{{- range $name, $value := $cfg }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
{{ $name }}: {{ include "fte.str" $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Kafka client settings as FTE_RDKAFKA_* (dots become _, _ becomes __):
kafka.rdkafka and what kafka.tls/kafka.sasl imply.
*/}}
{{- define "fte.kafkaConfig" -}}
{{- $k := .Values.kafka }}
{{- $props := deepCopy ($k.rdkafka | default dict) }}
{{- if or $k.tls.enabled $k.sasl.enabled }}
{{- $protocol := ternary (ternary "SASL_SSL" "SASL_PLAINTEXT" $k.tls.enabled) "SSL" $k.sasl.enabled }}
{{- $_ := set $props "security.protocol" $protocol }}
{{- end }}
{{- if $k.sasl.enabled }}
{{- $_ := set $props "sasl.mechanisms" $k.sasl.mechanism }}
{{- end }}
{{- if $k.tls.enabled }}
{{- $_ := set $props "ssl.ca.location" "/var/run/secrets/fte/kafka-tls/ca.crt" }}
{{- if $k.tls.clientCertificate }}
{{- $_ := set $props "ssl.certificate.location" "/var/run/secrets/fte/kafka-tls/tls.crt" }}
{{- $_ := set $props "ssl.key.location" "/var/run/secrets/fte/kafka-tls/tls.key" }}
{{- end }}
{{- end }}
{{- range $name, $value := $props }}
{{ printf "FTE_RDKAFKA_%s" ($name | replace "_" "__" | replace "." "_" | upper) }}: {{ include "fte.str" $value | quote }}
{{- end }}
{{- end }}

{{/* env entries for the Kafka SASL credentials. */}}
{{- define "fte.kafkaSecretEnv" -}}
{{- if .Values.kafka.sasl.enabled }}
- name: FTE_RDKAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ required "kafka.sasl.secretName is required with kafka.sasl.enabled" .Values.kafka.sasl.secretName | quote }}, key: username}
- name: FTE_RDKAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.kafka.sasl.secretName | quote }}, key: password}
{{- end }}
{{- end }}

{{/* env entries for secret FTE_* keys: (dict "root" $ "keys" LIST "secret" NAME) */}}
{{- define "fte.secretEnv" -}}
{{- range .keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secret | quote }}
      key: {{ . }}
      optional: {{ ne . "FTE_DATABASE_URL" }}
{{- end }}
{{- end }}

{{/* Kafka TLS volume (and its mount, "fte.kafkaTlsMount"). */}}
{{- define "fte.kafkaTlsVolume" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  secret:
    secretName: {{ required "kafka.tls.secretName is required with kafka.tls.enabled" .Values.kafka.tls.secretName | quote }}
{{- end }}
{{- end }}
{{- define "fte.kafkaTlsMount" -}}
{{- if .Values.kafka.tls.enabled }}
- name: kafka-tls
  mountPath: /var/run/secrets/fte/kafka-tls
  readOnly: true
{{- end }}
{{- end }}

{{/* terminationGracePeriodSeconds of a service: preStop + drain + margin. */}}
{{- define "fte.gracePeriod" -}}
{{- $v := index .root.Values .svc.key }}
{{- $cfg := merge (deepCopy ($v.config | default dict)) (deepCopy (.root.Values.config | default dict)) }}
{{- $drainMs := int64 (default 25000 (index $cfg "FTE_SHUTDOWN_TIMEOUT_MS")) }}
{{- add .root.Values.shutdown.preStopSleepSeconds (div (add $drainMs 999) 1000) .root.Values.shutdown.graceMarginSeconds }}
{{- end }}

{{/* The workload kind: a StatefulSet gives stable pod names for static membership. */}}
{{- define "fte.workloadKind" -}}
{{- if and .svc.consumer (index .root.Values .svc.key).staticMembership }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{/* The hook Job's env: the global settings inline, the database URL and Kafka credentials from Secrets. */}}
{{- define "fte.migrationEnv" -}}
{{- range $name, $value := .cfg }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
- name: {{ $name }}
  value: {{ include "fte.str" $value | quote }}
{{- end }}
{{- end }}
- name: FTE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: FTE_DATABASE_URL
{{- include "fte.kafkaSecretEnv" .root }}
{{- end }}

{{/* A setting as the string the service parses: whole numbers without an exponent (values files give floats: 604800000 would print 6.048e+08). */}}
{{- define "fte.str" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}
