#compdef relais
# zsh completion for relais, made by 'relais completion zsh'.

autoload -U +X bashcompinit && bashcompinit

# bash completion for relais, made by 'relais completion bash' from its table of commands.
_relais() {
	local cur="${COMP_WORDS[COMP_CWORD]}" cmd="relais" i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "$cmd ${COMP_WORDS[i]}" in
		"relais serve"|"relais api"|"relais worker"|"relais demo"|"relais twilio-sandbox"|"relais lesson"|"relais lesson upload"|"relais lesson status"|"relais media"|"relais media probe"|"relais media render"|"relais sms"|"relais sms count"|"relais sms digest"|"relais bounces"|"relais bounces import"|"relais token"|"relais token create"|"relais station"|"relais station create"|"relais station list"|"relais grid"|"relais grid template"|"relais grid slot"|"relais grid cancel"|"relais grid fill"|"relais grid list"|"relais epg"|"relais epg export"|"relais playlist"|"relais playlist export"|"relais db"|"relais db copy"|"relais plan"|"relais completion") cmd="$cmd ${COMP_WORDS[i]}" ;;
		esac
	done
	local words=""
	case "$cmd" in
	"relais") words="serve api worker demo twilio-sandbox lesson media sms bounces token station grid epg playlist db plan version completion" ;;
	"relais serve") words="--data-dir --database-url --default-country --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --http-addr --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --public-url --radio-wav --redis-addr --redis-db --redis-password --region-timezones --secret --send-claim-batch --send-orphan-after --service-provider --sms-from --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --timezone --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais api") words="--data-dir --database-url --default-country --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --http-addr --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --public-url --radio-wav --redis-addr --redis-db --redis-password --region-timezones --secret --send-claim-batch --send-orphan-after --service-provider --sms-from --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --timezone --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais worker") words="--data-dir --database-url --default-country --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --http-addr --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --public-url --radio-wav --redis-addr --redis-db --redis-password --region-timezones --secret --send-claim-batch --send-orphan-after --service-provider --sms-from --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --timezone --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais demo") words="--data-dir --database-url --default-country --dkim-domain --dkim-key-file --dkim-selector --email-from --email-rate --email-reply-to --households --http-addr --log-format --log-level --max-media-duration --max-upload-bytes --media-concurrency --media-dir --public-url --radio-wav --redis-addr --redis-db --redis-password --region-timezones --seconds --secret --send-claim-batch --send-orphan-after --serve --service-provider --sms-from --sms-messaging-service-sid --sms-quiet-dates --sms-quiet-days --sms-quiet-hours --sms-rate --sms-reconcile-after --sms-reminder-lead --sms-senders --smtp-host --smtp-max-conns --smtp-password --smtp-port --smtp-tls --smtp-username --timeout --timezone --tv-audio-codec --tv-format --twilio-account-sid --twilio-api-url --twilio-auth-token --worker-concurrency" ;;
	"relais twilio-sandbox") words="--account-sid --auth-token --inbound-url --listen --rules --step-delay" ;;
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
	"relais token") words="create" ;;
	"relais token create") words="--data-dir --database-url --json --name --role --user" ;;
	"relais station") words="create list" ;;
	"relais station create") words="--data-dir --database-url --json --kind --name --playout --region --service --tz" ;;
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
