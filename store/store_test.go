package store

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// The same behaviour is required of both dialects: every test of the store is a conformance
// test, run once against a SQLite file and once against a real PostgreSQL server.

func TestStoreSQLite(t *testing.T) {
	runConformance(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "vw.db") })
}

func TestStorePostgres(t *testing.T) {
	pg := testsrv.StartPostgres(t) // one server; each subtest gets its own database
	runConformance(t, func(t *testing.T) string { return pg.NewDatabase(t) })
}

// conformance lists the tests that every dialect must pass. Each gets a new empty database
// from newDSN.
var conformance = []struct {
	name string
	test func(t *testing.T, newDSN func(t *testing.T) string)
}{
	{"DeadLettersAddListFilter", testDeadLettersAddListFilter},
	{"DeadLettersPruneKeepsNewest", testDeadLettersPruneKeepsNewest},
	{"DeadLettersKeepBinaryPayload", testDeadLettersKeepBinaryPayload},
	{"MigrateOnceAndReopen", testMigrateOnceAndReopen},
	{"ConcurrentOpenMigratesOnce", testConcurrentOpenMigratesOnce},
	{"Sites", testSites},
	{"Teams", testTeams},
	{"Patients", testPatients},
	{"Devices", testDevices},
	{"CreateDevicesAllOrNothing", testCreateDevices},
	{"TeamRoster", testTeamRoster},
	{"ListPagesByID", testListPagesByID},
	{"ListRefusesFiltersThatDoNotApply", testListRefusesFiltersThatDoNotApply},
	{"Assignments", testAssignments},
	{"AssignmentRefusals", testAssignmentRefusals},
	{"LentDeviceCannotBeRetired", testLentDeviceCannotBeRetired},
	{"ConcurrentAssignmentsDoNotOverlap", testConcurrentAssignmentsDoNotOverlap},
	{"LoadDirectory", testLoadDirectory},
	{"DevicePeriods", testDevicePeriods},
	{"DevicesChangedSince", testDevicesChangedSince},
	{"LoadDirectorySince", testLoadDirectorySince},
	{"LoadDirectoryIsASnapshot", testLoadDirectoryIsASnapshot},
	{"RegistryVersion", testRegistryVersion},
	{"AuditLog", testAuditLog},
	{"MutationWithoutActor", testMutationWithoutActor},
	{"Users", testUsers},
	{"LastAdminStays", testLastAdminStays},
	{"ListUsers", testListUsers},
	{"Tokens", testTokens},
	{"Sessions", testSessions},
	{"RequestReadsWhileWriting", testRequestReadsWhileWriting},
	{"AccessAudit", testAccessAudit},
	{"CreateBatchesAllOrNothing", testCreateBatches},
	{"TransferPatientDevicesTravel", testTransferTravel},
	{"TransferPatientDevicesReturn", testTransferReturn},
	{"TransferPatientRefusals", testTransferRefusals},
	{"SetPatientPlans", testSetPatientPlans},
	{"PatientBirthYear", testPatientBirthYear},
	{"PatientRecords", testPatientRecords},
	{"MoveFlow", testMoveFlow},
	{"MoveRefusals", testMoveRefusals},
	{"MoveSteps", testMoveSteps},
	{"ConcurrentMoveProposals", testConcurrentMoveProposals},
	{"ListMoves", testListMoves},
	{"UsageRecordDedupes", testUsageRecordDedupes},
	{"UsageRecordConcurrently", testUsageRecordConcurrently},
	{"UsageDayCountsQuery", testUsageDayCountsQuery},
	{"UsageReplace", testUsageReplace},
	{"UsagePrune", testUsagePrune},
	{"UsageManyRows", testUsageManyRows},
	{"UsageTwoStores", testUsageTwoStores},
	{"UsageFold", testUsageFold},
	{"UsageKeysBeforeTheLog", testUsageKeysBeforeTheLog},
	{"UsageCorruptLog", testUsageCorruptLog},
	{"UsageSubjects", testUsageSubjects},
	{"AlertBurden", testAlertBurden},
	{"BurdenPopulationKept", testBurdenPopulationKept},
	{"BurdenInParts", testBurdenInParts},
	{"AlertRaiseAndRepeat", testAlertRaiseAndRepeat},
	{"AlertResolveByFinding", testAlertResolveByFinding},
	{"AlertAcknowledgeResolve", testAlertAcknowledgeResolve},
	{"AlertLateAndDoubt", testAlertLateAndDoubt},
	{"AlertConcurrentFindings", testAlertConcurrentFindings},
	{"AlertRedeliveredFinding", testAlertRedeliveredFinding},
	{"AlertEventsFeed", testAlertEventsFeed},
	{"AlertEventsVisibleInIDOrder", testAlertEventsVisibleInIDOrder},
	{"ListAlerts", testListAlerts},
	{"ApplyFindingRefusesBadFindings", testApplyFindingRefusesBadFindings},
	{"EscalationChain", testEscalationChain},
	{"EscalationStopsWhenAcknowledged", testEscalationStopsWhenAcknowledged},
	{"EscalationOutOfHours", testEscalationOutOfHours},
	{"EscalationTeamSettings", testEscalationTeamSettings},
	{"EscalationRace", testEscalationRace},
	{"EscalationReadsEveryPage", testEscalationReadsEveryPage},
	{"EscalateAll", testEscalateAll},
	{"Webhooks", testWebhooks},
	{"WebhookOutbox", testWebhookOutbox},
	{"WebhookConcurrentClaims", testWebhookConcurrentClaims},
	{"Overrides", testOverrides},
	{"Silences", testSilences},
	{"AlertSilencedFinding", testAlertSilencedFinding},
	{"DeviceStatusRoundTrip", testDeviceStatusRoundTrip},
	{"DeviceStatusFold", testDeviceStatusFold},
	{"DeviceStatusFoldMany", testDeviceStatusFoldMany},
	{"DeviceStatusConcurrentSaves", testDeviceStatusConcurrentSaves},
	{"DeviceStatusSync", testDeviceStatusSync},
}

func runConformance(t *testing.T, newDSN func(t *testing.T) string) {
	for _, c := range conformance {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, newDSN)
		})
	}
}

func mustOpen(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dsn, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a store on a new empty database.
func newStore(t *testing.T, newDSN func(t *testing.T) string) *Store {
	t.Helper()
	return mustOpen(t, newDSN(t))
}

// asAdmin is the context of the registry changes in these tests.
var asAdmin = audit.WithActor(context.Background(), "admin:test")

// wantCode fails the test unless err is an *errcode.Error with the code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var de *errcode.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Errorf("%s = %v; want a %s error", what, err, code)
	}
}

// must fails the test at once on an error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Instances that start together on one database apply each migration once, and none fails.
func testConcurrentOpenMigratesOnce(t *testing.T, newDSN func(t *testing.T) string) {
	dsn := newDSN(t)
	const n = 4
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Open(%s) alongside others: %v", dsn, err)
		}
	}
	s := mustOpen(t, dsn)
	files, _ := fs.Glob(migrations, "migrations/"+string(s.dialect)+"/*.sql")
	var rows int
	if err := s.db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(files) || rows < 2 {
		t.Errorf("schema_migrations has %d rows, %v; want %d, one per migration", rows, err, len(files))
	}
}
