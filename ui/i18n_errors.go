package ui

func init() {
	addMessages([]msg{
		// What a page's id names, in "Lesson "x" not found." (the rest is translated by locale).
		{"kind_lesson", "Lesson", "Leçon"},
		{"kind_station", "Station", "Station"},
		{"kind_slot", "Slot", "Créneau"},
		{"kind_batch", "Postal batch", "Lot postal"},
	})
}
