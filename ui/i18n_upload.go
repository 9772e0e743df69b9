package ui

// The strings of the resumable upload on the upload page (ui/static/ui.js reads them from the form's
// data attributes).

func init() {
	addMessages([]msg{
		{"upload_resume_help",
			"If the upload is interrupted, choose the same file again and press Upload: it continues where it stopped.",
			"Si l'envoi est interrompu, choisissez à nouveau le même fichier et cliquez sur Déposer : il reprend là où il s'était arrêté."},
		{"upload_resuming",
			"Continuing the earlier upload of this file…",
			"Reprise de l'envoi précédent de ce fichier…"},
		{"upload_saving", "File received; creating the lesson…", "Fichier reçu ; création de la leçon…"},
		{"upload_retrying",
			"Connection lost: reconnecting to continue where the upload stopped…",
			"Connexion perdue : reconnexion pour reprendre l'envoi là où il s'est arrêté…"},
		{"upload_network",
			"The connection to Relais was lost. Choose the same file and press Upload again: it continues where it stopped.",
			"La connexion à Relais a été perdue. Choisissez le même fichier et cliquez à nouveau sur Déposer : l'envoi reprend là où il s'était arrêté."},
	})
}
