package sdktest_test

import "errors"

func asStreamError(err error, target any) bool { return errors.As(err, target) }
