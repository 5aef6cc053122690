topic "a" {
  match  = "conflict"
  points = ["Stay calm."]
}
