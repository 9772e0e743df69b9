// Package storetest is the conformance suite of relais.Store: every engine (store/sqlite,
// store/postgres) runs the same tests from its own tests, so both behave the same down to the subtle
// rules (status ordering, reminders re-armed once per airing, postal batches claiming their deliveries,
// the per-minute timeline).
//
//	func TestStore(t *testing.T) { storetest.Run(t, open) }
package storetest

import (
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// Open returns a new, empty store for one test, closed when the test ends. The store reads the time
// from now; nil means time.Now.
type Open func(t testing.TB, now func() time.Time) relais.Store

// Run runs every conformance test against stores made by open, each as a sub-test.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, Open)
	}{
		{"LessonLifecycle", testLessonLifecycle},
		{"LessonStatusReasons", testLessonStatusReasons},
		{"UpsertHouseholdsKeepsOptOut", testUpsertHouseholdsKeepsOptOut},
		{"UpsertHouseholdsRepeatsAndRaces", testUpsertHouseholdsRepeatsAndRaces},
		{"PlanAndAdvanceDeliveries", testPlanAndAdvanceDeliveries},
		{"DeliveriesNeedTheirParents", testDeliveriesNeedTheirParents},
		{"Tokens", testTokens},
		{"TokenRotateRevoke", testTokenRotateRevoke},
		{"AuditLog", testAuditLog},
		{"StaffSignIn", testStaffSignIn},
		{"AccessAndErasure", testAccessAndErasure},
		{"Retention", testRetention},
		{"DeliveryRetention", testDeliveryRetention},
		{"DeliveryRetentionBatches", testDeliveryRetentionBatches},
		{"RemovedRetention", testRemovedRetention},
		{"MediaRetention", testMediaRetention},
		{"ClaimContact", testClaimContact},
		{"RemindDeliveriesRearmsOncePerAiring", testRemindDeliveriesRearmsOncePerAiring},
		{"PostalBatchLifecycle", testPostalBatchLifecycle},
		{"PostalBatchFailedAndFilters", testPostalBatchFailedAndFilters},
		{"RecordBounceOnce", testRecordBounceOnce},
		{"PostalBatchSizeCap", testPostalBatchSizeCap},
		{"StationUpdateAndDeleteAreAtomic", testStationUpdateAndDeleteAreAtomic},
		{"DeliveryTimeline", testDeliveryTimeline},
		{"FailureCountsAndStart", testFailureCountsAndStart},
		{"TimelineFollowsEveryWriter", testTimelineFollowsEveryWriter},
		{"LessonFiles", testLessonFiles},
		{"LessonsPages", testLessonsPages},
		{"HouseholdContacts", testHouseholdContacts},
		{"DeliveryListings", testDeliveryListings},
		{"ClaimContacts", testClaimContacts},
		{"Inbound", testInbound},
		{"ScheduleGrid", testScheduleGrid},
		{"ConcurrentGridWrites", testConcurrentGridWrites},
		{"SlotSequences", testSlotSequences},
		{"DeliveryClaims", testDeliveryClaims},
		{"UnknownReplacedByAnswer", testUnknownReplacedByAnswer},
		{"DeliveryReservations", testDeliveryReservations},
		{"CommitSends", testCommitSends},
		{"CommitSendsOutcomes", testCommitSendsOutcomes},
		{"RemindLeavesClaimedReminders", testRemindLeavesClaimedReminders},
		{"DeliveryCountsFollowEveryWriter", testDeliveryCountsFollowEveryWriter},
		{"Audience", testAudience},
		{"FrenchLessonNeverReachesRussianMedium", testFrenchLessonNeverReachesRussianMedium},
		{"UserClasses", testUserClasses},
		{"PlanPageRemembersSenders", testPlanPageRemembersSenders},
		{"PlannedHistories", testPlannedHistories},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open) })
	}
}
