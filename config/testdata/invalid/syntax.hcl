# A syntax error stops before decoding: only the parser's diagnostic is reported.
server {
  listen == "127.0.0.1:8080" # want: Argument or block definition required
  lisen = 1
}
