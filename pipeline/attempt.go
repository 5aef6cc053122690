package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
)

// runAttempt runs one attempt of a plugin stream: send feeds the plugin on a
// goroutine this function owns (closing sentAll once every input was sent and
// CloseSend called), while the calling goroutine receives and hands each output to
// handle. The attempt ends cleanly at io.EOF after all input was sent; an EOF before
// that is errEarlyEOF; any other failure goes through attemptErr. The sender is
// cancelled and waited for before runAttempt returns.
func runAttempt[T any](actx context.Context, cancel context.CancelCauseFunc, prog *progress,
	send func(sentAll chan struct{}), recv func(context.Context) (T, error), handle func(T)) error {
	var wg sync.WaitGroup
	sentAll := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		send(sentAll)
	}()
	defer func() {
		cancel(context.Canceled)
		wg.Wait()
	}()
	for {
		v, err := recv(actx)
		if err != nil {
			if errors.Is(err, io.EOF) && actx.Err() == nil {
				select {
				case <-sentAll:
					return nil
				default:
					return errEarlyEOF
				}
			}
			return attemptErr(actx, err)
		}
		prog.n.Add(1)
		handle(v)
	}
}
