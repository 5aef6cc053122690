topic "a" {
  match  = ["conflict with a coworker"
  points = ["Stay calm."]
}
