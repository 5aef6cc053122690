topic "a" {
  match  = ["conflict"]
  points = ["Stay calm."]
}

topic "a" {
  match  = ["failure"]
  points = ["Own it."]
}
