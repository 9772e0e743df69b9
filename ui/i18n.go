package ui

import (
	"net/http"
	"strings"
)

// uiLangs are the languages of the UI text, the first the default.
var uiLangs = []string{"fr", "en"}

// messages holds every UI string in each UI language; a test checks both have the same keys.
var messages = map[string]map[string]string{
	"en": {
		"app": "Relais", "skip": "Skip to content", "lang_name": "English", "switch_to": "Français",
		"signin": "Sign in", "signout": "Sign out", "token": "API token",
		"token_help":   "Paste the token your administrator created for you with 'relais token create'.",
		"signed_in_as": "Signed in as", "error": "Error",
		"err_signin":    "Sign in first.",
		"err_forbidden": "Your role cannot open this page.",
		"err_csrf":      "This form has expired or did not come from Relais. Go back, reload the page and try again.",
		"err_token":     "This token is not valid. Check it was copied whole.",
		"err_internal":  "Internal error; quote this request id to the administrator:",
		"lessons":       "Lessons", "my_lessons": "My lessons", "all_lessons": "All lessons", "no_lessons": "No lessons yet.",
		"new_lesson": "Upload a lesson", "title": "Title", "subject": "Subject", "grade": "Grade", "language": "Language",
		"region": "Region (optional)", "budget": "SMS segments for the digest", "media": "Video or audio recording",
		"text": "Lesson text (Markdown)", "text_help": "Lists become the key points of the SMS and the family page.",
		"preview": "Preview", "worksheet_file": "Worksheet PDF (optional; otherwise made from the text)",
		"upload": "Upload", "uploading": "Uploading…", "upload_failed": "The upload failed:",
		"status": "Status", "reason": "Reason", "step": "Step", "created": "Created", "teacher": "Teacher",
		"st_uploaded": "uploaded, waiting for checks", "st_processing": "processing", "st_ready": "ready to publish",
		"st_rejected": "rejected", "st_failed": "failed", "st_published": "published",
		"renditions": "Renditions", "kind": "Kind", "format": "Format", "duration": "Duration", "size": "Size",
		"loudness": "Loudness", "download": "Download", "listen": "Listen",
		"digests": "SMS digest", "segment": "segment", "segments": "segments", "encoding": "Encoding", "characters": "characters",
		"dropped": "Left out to fit", "worksheet": "Worksheet", "open_worksheet": "Open the worksheet (PDF)",
		"deliveries": "Deliveries", "channel": "Channel", "count": "Count", "total": "Total", "no_deliveries": "Nothing sent yet.",
		"auto_refresh": "This page refreshes itself while work is in progress.",
		"publish":      "Publish", "to_publish": "Lessons to publish", "nothing_to_publish": "No lesson is ready to publish.",
		"publish_confirm": "Publishing sends this lesson to every household of its grade.",
		"published_ok":    "Publishing started.",
		"dashboard":       "Delivery dashboard", "failures": "Failure reasons", "no_failures": "No failures.",
		"households": "Households", "import": "Import households", "csv_file": "CSV file",
		"import_help": "Columns: external_ref, region, language, grades, profile, phone, email, postal_address, consent.",
		"imported":    "Imported", "rejected": "Rejected", "row": "Row", "field": "Field", "problem": "Problem",
		"open": "Open", "back": "Back to lessons", "queues": "Job queues",
		"ds_pending": "pending", "ds_queued": "queued", "ds_sending": "sending", "ds_sent": "sent",
		"ds_delivered": "delivered", "ds_undelivered": "undelivered", "ds_failed": "failed", "ds_skipped": "skipped",
	},
	"fr": {
		"app": "Relais", "skip": "Aller au contenu", "lang_name": "Français", "switch_to": "English",
		"signin": "Se connecter", "signout": "Se déconnecter", "token": "Jeton d'accès",
		"token_help":   "Collez le jeton que votre administrateur a créé pour vous avec « relais token create ».",
		"signed_in_as": "Connecté en tant que", "error": "Erreur",
		"err_signin":    "Connectez-vous d'abord.",
		"err_forbidden": "Votre rôle ne permet pas d'ouvrir cette page.",
		"err_csrf":      "Ce formulaire a expiré ou ne vient pas de Relais. Revenez en arrière, rechargez la page et recommencez.",
		"err_token":     "Ce jeton n'est pas valide. Vérifiez qu'il a été copié en entier.",
		"err_internal":  "Erreur interne ; donnez cet identifiant de requête à l'administrateur :",
		"lessons":       "Leçons", "my_lessons": "Mes leçons", "all_lessons": "Toutes les leçons", "no_lessons": "Aucune leçon pour l'instant.",
		"new_lesson": "Déposer une leçon", "title": "Titre", "subject": "Matière", "grade": "Classe", "language": "Langue",
		"region": "Région (facultatif)", "budget": "Segments SMS du résumé", "media": "Enregistrement vidéo ou audio",
		"text": "Texte de la leçon (Markdown)", "text_help": "Les listes deviennent les points clés du SMS et de la page famille.",
		"preview": "Aperçu", "worksheet_file": "Fiche d'exercices PDF (facultatif ; sinon créée à partir du texte)",
		"upload": "Déposer", "uploading": "Envoi en cours…", "upload_failed": "L'envoi a échoué :",
		"status": "État", "reason": "Motif", "step": "Étape", "created": "Créée", "teacher": "Enseignant",
		"st_uploaded": "reçue, en attente de vérification", "st_processing": "en traitement", "st_ready": "prête à publier",
		"st_rejected": "refusée", "st_failed": "échec", "st_published": "publiée",
		"renditions": "Versions produites", "kind": "Type", "format": "Format", "duration": "Durée", "size": "Taille",
		"loudness": "Sonie", "download": "Télécharger", "listen": "Écouter",
		"digests": "Résumé SMS", "segment": "segment", "segments": "segments", "encoding": "Codage", "characters": "caractères",
		"dropped": "Omis pour tenir", "worksheet": "Fiche d'exercices", "open_worksheet": "Ouvrir la fiche (PDF)",
		"deliveries": "Envois", "channel": "Canal", "count": "Nombre", "total": "Total", "no_deliveries": "Rien n'a encore été envoyé.",
		"auto_refresh": "Cette page se met à jour seule pendant le traitement.",
		"publish":      "Publier", "to_publish": "Leçons à publier", "nothing_to_publish": "Aucune leçon n'est prête à publier.",
		"publish_confirm": "Publier envoie cette leçon à tous les foyers de sa classe.",
		"published_ok":    "Publication lancée.",
		"dashboard":       "Tableau des envois", "failures": "Motifs d'échec", "no_failures": "Aucun échec.",
		"households": "Foyers", "import": "Importer des foyers", "csv_file": "Fichier CSV",
		"import_help": "Colonnes : external_ref, region, language, grades, profile, phone, email, postal_address, consent.",
		"imported":    "Importés", "rejected": "Refusés", "row": "Ligne", "field": "Champ", "problem": "Problème",
		"open": "Ouvrir", "back": "Retour aux leçons", "queues": "Files de tâches",
		"ds_pending": "prévu", "ds_queued": "en file", "ds_sending": "en cours", "ds_sent": "envoyé",
		"ds_delivered": "remis", "ds_undelivered": "non remis", "ds_failed": "échec", "ds_skipped": "omis",
	},
}

// addMessages merges the UI strings of one feature's pages into messages; each page file keeps its
// own table (i18n_*.go) and calls it from init. A key defined twice is a programming error.
func addMessages(m map[string]map[string]string) {
	for lang, kv := range m {
		for k, v := range kv {
			if _, dup := messages[lang][k]; dup {
				panic("ui: message " + k + " defined twice")
			}
			messages[lang][k] = v
		}
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
