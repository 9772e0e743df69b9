package ui

func init() {
	addMessages(map[string]map[string]string{
		"en": {
			// What a page's id names, in "Lesson "x" not found." (the rest is translated by locale).
			"kind_lesson": "Lesson", "kind_station": "Station", "kind_slot": "Slot", "kind_batch": "Postal batch",
		},
		"fr": {
			"kind_lesson": "Leçon", "kind_station": "Station", "kind_slot": "Créneau", "kind_batch": "Lot postal",
		},
	})
}
