# bash completion for relais, made by 'relais completion bash' from its table of commands.
_relais() {
	local cur="${COMP_WORDS[COMP_CWORD]}" cmd="relais" i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "$cmd ${COMP_WORDS[i]}" in
		"relais serve"|"relais api"|"relais worker"|"relais demo"|"relais twilio-sandbox"|"relais lesson"|"relais lesson upload"|"relais lesson status"|"relais media"|"relais media probe"|"relais media render"|"relais sms"|"relais sms count"|"relais sms digest"|"relais bounces"|"relais bounces import"|"relais token"|"relais token create"|"relais token list"|"relais token rotate"|"relais token revoke"|"relais classes"|"relais classes set"|"relais classes list"|"relais station"|"relais station create"|"relais station list"|"relais grid"|"relais grid template"|"relais grid slot"|"relais grid cancel"|"relais grid fill"|"relais grid list"|"relais epg"|"relais epg export"|"relais playlist"|"relais playlist export"|"relais db"|"relais db copy"|"relais plan"|"relais completion") cmd="$cmd ${COMP_WORDS[i]}" ;;
		esac
	done
	local words=""
	case "$cmd" in
	"relais") words="serve api worker demo twilio-sandbox lesson media sms bounces token classes station grid epg playlist db plan version completion" ;;
	"relais serve") words="--audit-retention --bounce-retention --chunk-duration --data-dir --database-url --default-country --delivery-retention --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --http-addr --legacy-links-until --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --media-redirect --media-retention --media-url --oidc-client-id --oidc-client-secret --oidc-issuer --oidc-name --oidc-role-claim --oidc-roles --public-url --radio-wav --rate-family --rate-signin --rate-unsubscribe --rate-webhooks --redis-addr --redis-ca-file --redis-db --redis-password --redis-url --region-timezones --regions --removed-retention --reply-retention --s3-access-key --s3-endpoint --s3-path-style --s3-region --s3-secret-key --secret --send-claim-batch --send-orphan-after --service-provider --sms-from --sms-load-bound --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --subjects --timezone --trusted-proxies --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais api") words="--audit-retention --bounce-retention --chunk-duration --data-dir --database-url --default-country --delivery-retention --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --http-addr --legacy-links-until --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --media-redirect --media-retention --media-url --oidc-client-id --oidc-client-secret --oidc-issuer --oidc-name --oidc-role-claim --oidc-roles --public-url --radio-wav --rate-family --rate-signin --rate-unsubscribe --rate-webhooks --redis-addr --redis-ca-file --redis-db --redis-password --redis-url --region-timezones --regions --removed-retention --reply-retention --s3-access-key --s3-endpoint --s3-path-style --s3-region --s3-secret-key --secret --send-claim-batch --send-orphan-after --service-provider --sms-from --sms-load-bound --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --subjects --timezone --trusted-proxies --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais worker") words="--audit-retention --bounce-retention --chunk-duration --data-dir --database-url --default-country --delivery-retention --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --http-addr --legacy-links-until --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --media-redirect --media-retention --media-url --oidc-client-id --oidc-client-secret --oidc-issuer --oidc-name --oidc-role-claim --oidc-roles --public-url --radio-wav --rate-family --rate-signin --rate-unsubscribe --rate-webhooks --redis-addr --redis-ca-file --redis-db --redis-password --redis-url --region-timezones --regions --removed-retention --reply-retention --s3-access-key --s3-endpoint --s3-path-style --s3-region --s3-secret-key --secret --send-claim-batch --send-orphan-after --service-provider --sms-from --sms-load-bound --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --subjects --timezone --trusted-proxies --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais demo") words="--audit-retention --bounce-retention --chunk-duration --data-dir --database-url --default-country --delivery-retention --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --households --http-addr --legacy-links-until --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --media-redirect --media-retention --media-url --oidc-client-id --oidc-client-secret --oidc-issuer --oidc-name --oidc-role-claim --oidc-roles --public-url --radio-wav --rate-family --rate-signin --rate-unsubscribe --rate-webhooks --redis-addr --redis-ca-file --redis-db --redis-password --redis-url --region-timezones --regions --removed-retention --reply-retention --s3-access-key --s3-endpoint --s3-path-style --s3-region --s3-secret-key --seconds --secret --send-claim-batch --send-orphan-after --serve --service-provider --sms-from --sms-load-bound --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --subjects --timeout --timezone --trusted-proxies --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais twilio-sandbox") words="--account-sid --accounts --auth-token --inbound-url --listen --rules --step-delay" ;;
	"relais lesson") words="upload status" ;;
	"relais lesson upload") words="--budget --chunk-size --grade --language --no-wait --region --resume-attempts --server --subject --text --title --token --worksheet" ;;
	"relais lesson status") words="--server --token" ;;
	"relais media") words="probe render" ;;
	"relais media probe") words="--json --max-bytes --max-duration" ;;
	"relais media render") words="--format --json --out --preset --title --tv-audio --wav" ;;
	"relais sms") words="count digest" ;;
	"relais sms count") words="--json --smart" ;;
	"relais sms digest") words="--airing --budget --lang --title" ;;
	"relais bounces") words="import" ;;
	"relais bounces import") words="--data-dir --database-url --maildir --mbox" ;;
	"relais token") words="create list rotate revoke" ;;
	"relais token create") words="--data-dir --database-url --expires --json --name --role --user" ;;
	"relais token list") words="--data-dir --database-url" ;;
	"relais token rotate") words="--data-dir --database-url --expires" ;;
	"relais token revoke") words="--data-dir --database-url" ;;
	"relais classes") words="set list" ;;
	"relais classes set") words="--classes --data-dir --database-url --user" ;;
	"relais classes list") words="--data-dir --database-url --user" ;;
	"relais station") words="create list" ;;
	"relais station create") words="--data-dir --database-url --day-start --filler --json --kind --name --playout --region --service --tz" ;;
	"relais station list") words="--data-dir --database-url --json" ;;
	"relais grid") words="template slot cancel fill list" ;;
	"relais grid template") words="--data-dir --database-url --days --end --from --grade --json --language --slot --start --station --subject --to" ;;
	"relais grid slot") words="--data-dir --database-url --date --grade --json --language --minutes --start --station --subject" ;;
	"relais grid cancel") words="--data-dir --database-url --date --json --reason --station" ;;
	"relais grid fill") words="--data-dir --database-url --from --json --reruns --station --to" ;;
	"relais grid list") words="--data-dir --database-url --from --json --station --to" ;;
	"relais epg") words="export" ;;
	"relais epg export") words="--data-dir --database-url --from --station --to" ;;
	"relais playlist") words="export" ;;
	"relais playlist export") words="--data-dir --database-url --date --filler --format --station" ;;
	"relais db") words="copy" ;;
	"relais db copy") words="--batch --from --to" ;;
	"relais plan") words="--at --data-dir --database-url --email-rate --households --json --lesson --postal-lead-days --sms-rate --sms-reminder-lead" ;;
	"relais completion") words="bash zsh fish" ;;
	esac
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _relais relais
