package ui

import (
	"net/http"
	"strings"
)

// uiLangs are the languages of the UI text, the first the default.
var uiLangs = []string{"fr", "en"}

// msg is one UI string: its key, its English text and its French text, side by side so that no string
// goes without its translation.
type msg struct{ key, en, fr string }

// messages holds every UI string in each UI language, from the tables of each feature's pages.
var messages = map[string]map[string]string{"en": {}, "fr": {}}

func init() { addMessages(commonMessages) }

// commonMessages are the strings of the layout, sign-in and lesson pages.
var commonMessages = []msg{
	{"app", "Relais", "Relais"},
	{"skip", "Skip to content", "Aller au contenu"},
	{"lang_name", "English", "Français"},
	{"switch_to", "Français", "English"},
	{"signin", "Sign in", "Se connecter"},
	{"signout", "Sign out", "Se déconnecter"},
	{"token", "API token", "Jeton d'accès"},
	{"token_help",
		"Paste the token your administrator created for you with 'relais token create'.",
		"Collez le jeton que votre administrateur a créé pour vous avec « relais token create »."},
	{"signed_in_as", "Signed in as", "Connecté en tant que"},
	{"error", "Error", "Erreur"},
	{"err_signin", "Sign in first.", "Connectez-vous d'abord."},
	{"err_forbidden", "Your role cannot open this page.", "Votre rôle ne permet pas d'ouvrir cette page."},
	{"err_csrf",
		"This form has expired or did not come from Relais. Go back, reload the page and try again.",
		"Ce formulaire a expiré ou ne vient pas de Relais. Revenez en arrière, rechargez la page et recommencez."},
	{"err_token",
		"This token is not valid. Check it was copied whole.",
		"Ce jeton n'est pas valide. Vérifiez qu'il a été copié en entier."},
	{"err_internal",
		"Internal error; quote this request id to the administrator:",
		"Erreur interne ; donnez cet identifiant de requête à l'administrateur :"},
	{"lessons", "Lessons", "Leçons"},
	{"my_lessons", "My lessons", "Mes leçons"},
	{"all_lessons", "All lessons", "Toutes les leçons"},
	{"no_lessons", "No lessons yet.", "Aucune leçon pour l'instant."},
	{"new_lesson", "Upload a lesson", "Déposer une leçon"},
	{"title", "Title", "Titre"},
	{"subject", "Subject", "Matière"},
	{"grade", "Grade", "Classe"},
	{"language", "Language", "Langue"},
	{"region", "Region (optional)", "Région (facultatif)"},
	{"budget", "SMS segments for the digest", "Segments SMS du résumé"},
	{"media", "Video or audio recording", "Enregistrement vidéo ou audio"},
	{"text", "Lesson text (Markdown)", "Texte de la leçon (Markdown)"},
	{"text_help",
		"Lists become the key points of the SMS and the family page.",
		"Les listes deviennent les points clés du SMS et de la page famille."},
	{"preview", "Preview", "Aperçu"},
	{"worksheet_file",
		"Worksheet PDF (optional; otherwise made from the text)",
		"Fiche d'exercices PDF (facultatif ; sinon créée à partir du texte)"},
	{"upload", "Upload", "Déposer"},
	{"uploading", "Uploading…", "Envoi en cours…"},
	{"upload_failed", "The upload failed:", "L'envoi a échoué :"},
	{"status", "Status", "État"},
	{"reason", "Reason", "Motif"},
	{"step", "Step", "Étape"},
	{"created", "Created", "Créée"},
	{"teacher", "Teacher", "Enseignant"},
	{"st_uploaded", "uploaded, waiting for checks", "reçue, en attente de vérification"},
	{"st_processing", "processing", "en traitement"},
	{"st_ready", "ready to publish", "prête à publier"},
	{"st_rejected", "rejected", "refusée"},
	{"st_failed", "failed", "échec"},
	{"st_published", "published", "publiée"},
	{"renditions", "Renditions", "Versions produites"},
	{"kind", "Kind", "Type"},
	{"format", "Format", "Format"},
	{"duration", "Duration", "Durée"},
	{"size", "Size", "Taille"},
	{"loudness", "Loudness", "Sonie"},
	{"download", "Download", "Télécharger"},
	{"listen", "Listen", "Écouter"},
	{"digests", "SMS digest", "Résumé SMS"},
	{"segment", "segment", "segment"},
	{"segments", "segments", "segments"},
	{"encoding", "Encoding", "Codage"},
	{"characters", "characters", "caractères"},
	{"dropped", "Left out to fit", "Omis pour tenir"},
	{"worksheet", "Worksheet", "Fiche d'exercices"},
	{"open_worksheet", "Open the worksheet (PDF)", "Ouvrir la fiche (PDF)"},
	{"deliveries", "Deliveries", "Envois"},
	{"channel", "Channel", "Canal"},
	{"count", "Count", "Nombre"},
	{"total", "Total", "Total"},
	{"no_deliveries", "Nothing sent yet.", "Rien n'a encore été envoyé."},
	{"auto_refresh",
		"This page refreshes itself while work is in progress.",
		"Cette page se met à jour seule pendant le traitement."},
	{"publish", "Publish", "Publier"},
	{"to_publish", "Lessons to publish", "Leçons à publier"},
	{"nothing_to_publish", "No lesson is ready to publish.", "Aucune leçon n'est prête à publier."},
	{"publish_confirm",
		"Publishing sends this lesson to every household of its grade.",
		"Publier envoie cette leçon à tous les foyers de sa classe."},
	{"published_ok", "Publishing started.", "Publication lancée."},
	{"dashboard", "Delivery dashboard", "Tableau des envois"},
	{"failures", "Failure reasons", "Motifs d'échec"},
	{"no_failures", "No failures.", "Aucun échec."},
	{"households", "Households", "Foyers"},
	{"import", "Import households", "Importer des foyers"},
	{"csv_file", "CSV file", "Fichier CSV"},
	{"import_help",
		"Columns: external_ref, region, language, grades, profile, phone, email, postal_address, consent.",
		"Colonnes : external_ref, region, language, grades, profile, phone, email, postal_address, consent."},
	{"imported", "Imported", "Importés"},
	{"rejected", "Rejected", "Refusés"},
	{"row", "Row", "Ligne"},
	{"field", "Field", "Champ"},
	{"problem", "Problem", "Problème"},
	{"open", "Open", "Ouvrir"},
	{"back", "Back to lessons", "Retour aux leçons"},
	{"queues", "Job queues", "Files de tâches"},
	{"ds_pending", "pending", "prévu"},
	{"ds_claimed", "being sent", "en cours d'envoi"},
	{"ds_unknown", "unknown", "inconnu"},
	{"ds_queued", "queued", "en file"},
	{"ds_sending", "sending", "en cours"},
	{"ds_sent", "sent", "envoyé"},
	{"ds_delivered", "delivered", "remis"},
	{"ds_undelivered", "undelivered", "non remis"},
	{"ds_failed", "failed", "échec"},
	{"ds_skipped", "skipped", "omis"},
}

// addMessages merges the UI strings of one feature's pages into messages; each page file keeps its
// own table (i18n_*.go) and calls it from init. A key defined twice is a programming error.
func addMessages(ms []msg) {
	for _, m := range ms {
		if _, dup := messages["en"][m.key]; dup {
			panic("ui: message " + m.key + " defined twice")
		}
		messages["en"][m.key], messages["fr"][m.key] = m.en, m.fr
	}
}

// t returns the UI text of key in the request's language.
func (c *reqCtx) t(key string) string {
	if s, ok := messages[c.lang][key]; ok {
		return s
	}
	return key
}

// pickLang takes the language chosen with the toggle, else the first UI language in Accept-Language.
func pickLang(r *http.Request) string {
	if ck, err := r.Cookie(langCookie); err == nil && validLang(ck.Value) {
		return ck.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if validLang(base) {
			return base
		}
	}
	return uiLangs[0]
}

func validLang(l string) bool { return l == "fr" || l == "en" }

func otherLang(l string) string {
	if l == "fr" {
		return "en"
	}
	return "fr"
}
