topic "a" {
  match    = ["conflict"]
  points   = ["Stay calm."]
  followup = ["Typo for follow_up."]
}
