package audio

import "time"

// samplesToDuration converts a sample count at rate to a duration without
// overflowing for long streams.
func samplesToDuration(n int64, rate int) time.Duration {
	r := int64(rate)
	return time.Duration(n/r)*time.Second + time.Duration(n%r*int64(time.Second)/r)
}
