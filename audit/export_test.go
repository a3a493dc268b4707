package audit

import "time"

// SetClock sets the clock l signs checkpoints by.
func SetClock(l *Log, now func() time.Time) { l.now = now }
