package app

import (
	"testing"

	"github.com/vitalwatch/vitalwatch/ingest"
	"github.com/vitalwatch/vitalwatch/internal/config"
)

// Every pipeline setting reaches the pipeline from its key: with the keys' defaults, the
// pipeline gets exactly its own defaults, no field left zero.
func TestPipelineConfigTakesEveryKey(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pipelineConfig(cfg), ingest.DefaultConfig(); got != want {
		t.Errorf("pipelineConfig(defaults) = %+v; want ingest.DefaultConfig() %+v", got, want)
	}
	cfg.Ingest.Linger, cfg.Ingest.RetryInterval, cfg.Ingest.MaxRetryInterval = 3, 4, 5
	if got := pipelineConfig(cfg); got.Linger != 3 || got.RetryInterval != 4 || got.MaxRetryInterval != 5 {
		t.Errorf("pipelineConfig = %+v; want linger 3, retry 4, max retry 5 from the keys", got)
	}
}
