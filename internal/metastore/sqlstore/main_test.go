package sqlstore

import (
	"os"
	"testing"

	"github.com/berth-registry/berth/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithPostgres(m)) }
