topic "a" {
  kind   = "behavioural"
  points = ["Stay calm."]
}
