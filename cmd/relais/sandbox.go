package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/channels/sms/sandbox"
)

// cmdTwilioSandbox serves the local Twilio-compatible SMS API until interrupted.
func cmdTwilioSandbox(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "twilio-sandbox", "twilio-sandbox [--listen 127.0.0.1:PORT] --account-sid AC... --auth-token TOKEN",
		"Serves POST/GET /2010-04-01/Accounts/{AccountSid}/Messages.json like api.twilio.com (basic auth with the\n"+
			"SID and token), then calls each message's StatusCallback (queued, sent, delivered) signed with\n"+
			"X-Twilio-Signature. GET /sandbox/messages lists what it received; POST /sandbox/inbound (From, To,\n"+
			"Body) sends a signed reply to Relais' inbound webhook; PUT /sandbox/rules injects failures. Point\n"+
			"Relais at it with RELAIS_TWILIO_API_URL=http://LISTEN.\n\n"+
			"A rules file (the body of PUT /sandbox/rules) is a JSON array; the first rule that matches applies:\n"+
			`  [{"to":"+33611111111","http_status":429,"retry_after":"2s"},   throttle one number`+"\n"+
			`   {"share":0.1,"http_status":500},                              a tenth of all requests fail`+"\n"+
			`   {"to":"+33644444444","final_status":"undelivered","error_code":30006},`+"\n"+
			`   {"share":0.2,"callback_delay":"5s"}, {"to":"+33655555555","no_callbacks":true}]`)
	getenv := func(k, def string) string {
		if v := io.getenv(k); v != "" {
			return v
		}
		return def
	}
	listen := fs.String("listen", getenv("RELAIS_TWILIO_SANDBOX_LISTEN", "127.0.0.1:8089"), "address to listen on (env RELAIS_TWILIO_SANDBOX_LISTEN)")
	sid := fs.String("account-sid", getenv("RELAIS_TWILIO_ACCOUNT_SID", ""), "account SID the sandbox accepts (env RELAIS_TWILIO_ACCOUNT_SID)")
	token := fs.String("auth-token", getenv("RELAIS_TWILIO_AUTH_TOKEN", ""), "auth token it accepts and signs callbacks with (env RELAIS_TWILIO_AUTH_TOKEN)")
	accounts := fs.String("accounts", getenv("RELAIS_TWILIO_SANDBOX_ACCOUNTS", ""),
		"more accounts it serves, SID:TOKEN,SID:TOKEN (env RELAIS_TWILIO_SANDBOX_ACCOUNTS): the accounts of a sender pool")
	inboundDefault := ""
	if pub := io.getenv("RELAIS_PUBLIC_URL"); pub != "" {
		inboundDefault = strings.TrimRight(pub, "/") + sms.InboundPath
	}
	inbound := fs.String("inbound-url", getenv("RELAIS_TWILIO_SANDBOX_INBOUND_URL", inboundDefault),
		"Relais' inbound SMS webhook for simulated replies (env RELAIS_TWILIO_SANDBOX_INBOUND_URL; default RELAIS_PUBLIC_URL"+sms.InboundPath+")")
	rulesFile := fs.String("rules", getenv("RELAIS_TWILIO_SANDBOX_RULES", ""), "JSON file of failure rules (env RELAIS_TWILIO_SANDBOX_RULES)")
	step := fs.Duration("step-delay", 200*time.Millisecond, "pause between the status callbacks of one message")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sid == "" || *token == "" {
		fmt.Fprintln(io.err, "twilio-sandbox: --account-sid and --auth-token are required")
		return exitError(2)
	}
	more := map[string]string{}
	for _, a := range strings.Split(*accounts, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		sid, token, ok := strings.Cut(a, ":")
		if !ok || sid == "" || token == "" {
			fmt.Fprintf(io.err, "twilio-sandbox: --accounts: %q is not SID:TOKEN\n", a)
			return exitError(2)
		}
		more[sid] = token
	}
	var rules []sandbox.Rule
	if *rulesFile != "" {
		b, err := os.ReadFile(*rulesFile)
		if err != nil {
			return fmt.Errorf("twilio-sandbox: %w", err)
		}
		if err := json.Unmarshal(b, &rules); err != nil {
			return fmt.Errorf("twilio-sandbox: rules %s: %w", *rulesFile, err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.err, nil))
	s := sandbox.New(sandbox.Config{AccountSID: *sid, AuthToken: *token, Accounts: more, InboundURL: *inbound, Rules: rules,
		StepDelay: *step, Logger: log})
	return s.Run(ctx, *listen, func(base string) {
		fmt.Fprintf(io.out, "twilio sandbox listening on %s (RELAIS_TWILIO_API_URL=%s)\n", base, base)
	})
}
