package token

import (
	"testing"
	"time"
)

func TestReadableDurationsUseThePersonsUnit(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		d    time.Duration
		want string
	}{
		{250 * time.Millisecond, "250ms"},
		{999*time.Millisecond + 600*time.Microsecond, "1s"},
		{time.Second + 400*time.Millisecond, "1s"},
		{3*time.Minute + 12*time.Second + 345*time.Millisecond, "3m12s"},
		{3 * time.Minute, "3m0s"},
		{59*time.Minute + 59*time.Second + 400*time.Millisecond, "59m59s"},
		{59*time.Minute + 59*time.Second + 600*time.Millisecond, "1h"}, // rounds into the next bucket
		{time.Hour, "1h"},
		{3*time.Hour + 12*time.Minute + 20*time.Second, "3h12m"},
		{23*time.Hour + 59*time.Minute + 20*time.Second, "23h59m"},
		{23*time.Hour + 59*time.Minute + 40*time.Second, "1 day"},
		{day + 11*time.Hour, "1 day"},
		{day + 12*time.Hour, "2 days"},
		{364 * day, "364 days"},
		{364*day + 12*time.Hour, "1.0 years"},
		{54489*time.Hour + 43*time.Minute + 35*time.Second, "6.2 years"}, // issue 15's token, expired in 2019
	}
	for _, tt := range tests {
		if got := readable(tt.d); got != tt.want {
			t.Errorf("readable(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
