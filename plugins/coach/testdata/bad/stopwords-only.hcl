topic "a" {
  match  = ["tell me about a time"]
  points = ["Stay calm."]
}
