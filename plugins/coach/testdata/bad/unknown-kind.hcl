topic "a" {
  kind   = "behavioral-ish"
  match  = ["conflict with a coworker"]
  points = ["Stay calm."]
}
