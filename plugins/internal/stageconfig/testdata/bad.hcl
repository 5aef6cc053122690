name    = 3
rate    = "fast"
silence = "soon"
buffer  = "12 parsecs"
small   = 1.5
hints   = "Go"
bogus   = 1
