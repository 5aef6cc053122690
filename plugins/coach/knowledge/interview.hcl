# earshot coach — default interview knowledge base.
#
# Each topic is one family of interview questions. The coach matches what the
# interviewer says against `match` (phrasings of the question: list the words that
# identify it; common words such as "tell me about a time" are ignored) and
# suggests the topic's talking points, answer outline and follow-up questions.
#
#   topic "<id>" {
#     kind      = "behavioural" | "technical" | "situational" | "closing" | "general"
#     title     = "Human title"          # optional
#     match     = ["phrase", ...]        # required
#     points    = ["talking point", ...] # what to mention
#     outline   = ["step", ...]          # how to structure the answer
#     follow_up = ["question", ...]      # what to ask back
#   }
#
# Copy this file, edit it for your field and your own stories, and point the
# suggester at it:  suggester "coach" { knowledge = "my-interview.hcl" }

# ---------------------------------------------------------------- behavioural

topic "tell-me-about-yourself" {
  kind  = "behavioural"
  title = "Tell me about yourself"
  match = [
    "tell me about yourself",
    "introduce yourself",
    "walk me through your resume",
    "walk me through your background",
    "tell me about your background",
    "give me a quick overview of your career",
    "how would you describe yourself",
    "what is your story",
  ]
  points = [
    "Keep it to about 90 seconds: present, past, future — not your life story.",
    "Present: your current role, scope and the one result you are proudest of, with a number.",
    "Past: two or three steps that explain how you got here and what you are best at.",
    "Future: why this role is the logical next step, tied to something specific in the job description.",
    "End by handing the conversation back: offer to go deeper on any part.",
  ]
  outline = [
    "Present — role, team, scope, one measurable win",
    "Past — the experiences that built the skills this role needs",
    "Future — why this role, why now",
  ]
  follow_up = [
    "Which parts of my background are most relevant to what the team needs right now?",
  ]
}

topic "conflict" {
  kind  = "behavioural"
  title = "Conflict with a colleague"
  match = [
    "conflict",
    "conflict with a coworker",
    "conflict with a colleague",
    "conflict on your team",
    "difficult coworker",
    "difficult colleague",
    "disagreement with a teammate",
    "disagreed with a colleague",
    "how do you handle conflict",
    "someone you did not get along with",
    "hard to work with",
  ]
  points = [
    "Pick a real, professional disagreement (about approach, priorities or quality), not a personality clash.",
    "Show that you sought to understand their view first: a private conversation, questions, listening.",
    "Move the discussion to shared goals and facts: data, user impact, a small experiment.",
    "Say what was decided and how the relationship was afterwards — ideally better.",
    "Never blame: the other person should come across as reasonable.",
  ]
  outline = [
    "Situation — who, what the disagreement was about, why it mattered",
    "Task — what you needed to resolve",
    "Action — talk one to one, understand their goal, find common ground, agree on criteria",
    "Result — the decision, the outcome, and what you do differently now",
  ]
  follow_up = [
    "How does the team usually resolve technical disagreements here?",
  ]
}

topic "failure" {
  kind  = "behavioural"
  title = "A failure"
  match = [
    "time you failed",
    "a failure",
    "biggest failure",
    "project that failed",
    "something that did not go well",
    "when things went wrong",
    "a setback",
  ]
  points = [
    "Choose a genuine failure with real stakes, but not one that questions your core competence.",
    "Own your part plainly — no blaming circumstances or other people.",
    "Spend most of the answer on what you learned and what you changed afterwards.",
    "Close with evidence the lesson stuck: a later situation you handled better.",
  ]
  outline = [
    "Situation — the project and what was at stake",
    "Task — what you were responsible for",
    "Action — what you did, and where it went wrong",
    "Result — the impact, what you learned, how you apply it now",
  ]
  follow_up = [
    "How does the team handle post-mortems when something goes wrong?",
  ]
}

topic "mistake" {
  kind  = "behavioural"
  title = "A mistake you made"
  match = [
    "a mistake you made",
    "biggest mistake",
    "time you made a mistake",
    "something you got wrong",
    "an error you made",
    "what would you do differently",
  ]
  points = [
    "Pick a concrete mistake you caught or owned quickly.",
    "Explain how you noticed it and how fast you told the people affected.",
    "Describe the fix, then the prevention: a test, a checklist, an alert, a process change.",
    "Show the habit it left you with.",
  ]
  outline = [
    "Situation — the context and the mistake",
    "Action — detection, communication, fix",
    "Result — impact contained, and the safeguard you added",
    "Lesson — what you do differently now",
  ]
  follow_up = [
    "What safeguards does the team have for catching mistakes before they reach users?",
  ]
}

topic "leadership" {
  kind  = "behavioural"
  title = "Leadership"
  match = [
    "time you showed leadership",
    "leadership experience",
    "when you led a team",
    "led a project",
    "took the lead",
    "took ownership",
    "took initiative",
    "your leadership style",
  ]
  points = [
    "Leadership does not need a title: leading a project, an incident or a change counts.",
    "Show how you set direction: the goal, why it mattered, how you got people on board.",
    "Show how you enabled others: unblocking, delegating, giving credit.",
    "Quantify the outcome and mention what the team gained beyond the deliverable.",
  ]
  outline = [
    "Situation — the team, the goal, what was missing",
    "Task — why you stepped up",
    "Action — direction set, people aligned, obstacles removed",
    "Result — the outcome with numbers; how the team grew",
  ]
  follow_up = [
    "What does leadership look like for someone at this level on your team?",
  ]
}

topic "weakness" {
  kind  = "behavioural"
  title = "Greatest weakness"
  match = [
    "greatest weakness",
    "biggest weakness",
    "what are your weaknesses",
    "area for improvement",
    "something you are working on improving",
    "what would your manager say you need to improve",
    "development area",
  ]
  points = [
    "Name a real but non-critical weakness for this role — avoid disguised strengths like 'perfectionism'.",
    "Give a short example of how it showed up.",
    "Spend most of the answer on the concrete steps you are taking and the progress so far.",
    "Keep it brief and end on the improvement.",
  ]
  outline = [
    "The weakness, honestly named",
    "An example of its impact",
    "What you do about it (habits, tools, feedback)",
    "The progress you can show",
  ]
  follow_up = [
    "How does the team support people in growing their skills?",
  ]
}

topic "strength" {
  kind  = "behavioural"
  title = "Greatest strength"
  match = [
    "greatest strength",
    "biggest strength",
    "what are your strengths",
    "what are you best at",
    "what would your colleagues say you are good at",
    "what makes you stand out",
    "your superpower",
    "what would your manager say about you",
  ]
  points = [
    "Choose one or two strengths that matter for this role — read the job description.",
    "Back each with a specific story and a measurable result.",
    "Mention how others recognise it (feedback, what people come to you for).",
    "Connect it to what this team needs right now.",
  ]
  outline = [
    "The strength, in one sentence",
    "Evidence — a story with a result",
    "How it would help in this role",
  ]
  follow_up = [
    "Which strengths do your best people on this team have in common?",
  ]
}

topic "teamwork" {
  kind  = "behavioural"
  title = "Teamwork"
  match = [
    "work in a team",
    "teamwork",
    "team player",
    "collaborate with others",
    "collaboration",
    "cross functional team",
    "worked with other teams",
  ]
  points = [
    "Pick a story where the team's result depended on collaboration, not a solo effort.",
    "Be specific about your role and what you did to help others succeed.",
    "Mention communication habits: written updates, clear ownership, asking for help early.",
    "Say 'we' for the result and 'I' for your actions.",
  ]
  outline = [
    "Situation — the team and the shared goal",
    "Task — your role",
    "Action — how you collaborated, communicated, helped",
    "Result — what the team achieved",
  ]
  follow_up = [
    "How do engineering, product and design work together day to day here?",
  ]
}

topic "deadline" {
  kind  = "behavioural"
  title = "A tight deadline"
  match = [
    "deadline",
    "tight deadline",
    "missed a deadline",
    "under time pressure",
    "short timeline",
    "deliver something quickly",
    "not enough time",
    "behind schedule",
  ]
  points = [
    "Show how you clarified what really had to ship versus what could wait.",
    "Explain how you cut scope or re-planned, and how you communicated risks early.",
    "Mention keeping quality where it mattered (tests on the critical path, a rollback plan).",
    "State the outcome and what you changed in planning afterwards.",
  ]
  outline = [
    "Situation — the deadline and why it was tight",
    "Task — what had to be delivered",
    "Action — prioritise, negotiate scope, communicate, execute",
    "Result — delivered on time (or how you handled the miss) and the lesson",
  ]
  follow_up = [
    "How are deadlines usually set here, and how much say does the team have in them?",
  ]
}

topic "disagree-with-manager" {
  kind  = "behavioural"
  title = "Disagreeing with your manager"
  match = [
    "disagreed with your manager",
    "disagreement with your boss",
    "disagree with a decision",
    "pushed back on your manager",
    "push back",
    "did not agree with leadership",
    "challenged a decision",
  ]
  points = [
    "Show respectful pushback: in private, with data, focused on the goal rather than on being right.",
    "Describe how you presented alternatives and their trade-offs.",
    "If overruled, show that you committed fully ('disagree and commit').",
    "Give the outcome — and be fair if your manager turned out to be right.",
  ]
  outline = [
    "Situation — the decision and why you disagreed",
    "Action — how you raised it, the evidence you brought",
    "Result — the decision taken and how you supported it",
    "Lesson — what you learned about influencing upward",
  ]
  follow_up = [
    "How do decisions get made on this team, and how is dissent handled?",
  ]
}

topic "proudest-project" {
  kind  = "behavioural"
  title = "Proudest project or achievement"
  match = [
    "project you are most proud of",
    "proudest achievement",
    "greatest accomplishment",
    "biggest achievement",
    "most interesting project",
    "most challenging project",
    "a project you worked on",
    "a recent project",
  ]
  points = [
    "Choose a project relevant to this role, with a clear impact you can measure.",
    "Explain the problem and why it was hard — in terms a non-specialist follows.",
    "Be precise about your own contribution and the key decisions you made.",
    "Give the result with numbers, and what you would do differently now.",
  ]
  outline = [
    "Situation — the problem and why it mattered",
    "Task — your role and the constraints",
    "Action — the key decisions and the hard part",
    "Result — measurable impact; what you learned",
  ]
  follow_up = [
    "What is the most important project the team will tackle in the next six months?",
  ]
}

topic "feedback" {
  kind  = "behavioural"
  title = "Receiving critical feedback"
  match = [
    "received critical feedback",
    "negative feedback",
    "difficult feedback",
    "how do you handle criticism",
    "someone criticized your work",
    "constructive criticism",
    "gave feedback to a colleague",
  ]
  points = [
    "Show that you listened without getting defensive and asked clarifying questions.",
    "Describe the concrete change you made in response.",
    "Show the result: better work, or the relationship that improved.",
    "Mention that you actively ask for feedback now.",
  ]
  outline = [
    "Situation — the feedback and who gave it",
    "Action — how you reacted and what you changed",
    "Result — the improvement, and how you seek feedback today",
  ]
  follow_up = [
    "How is feedback given on the team — reviews, one to ones, something else?",
  ]
}

topic "prioritisation" {
  kind  = "behavioural"
  title = "Prioritising competing work"
  match = [
    "how do you prioritize",
    "competing priorities",
    "multiple projects at once",
    "juggle multiple tasks",
    "too much work on your plate",
    "manage your time",
    "conflicting requests",
  ]
  points = [
    "Name your method: impact versus effort, deadlines and dependencies, what unblocks others.",
    "Show that you make priorities visible and agree them with your manager or stakeholders.",
    "Explain how you say no or 'not now' and renegotiate when something new arrives.",
    "Illustrate with one specific week or project.",
  ]
  outline = [
    "Your prioritisation principle",
    "Example — the competing demands",
    "How you decided and communicated",
    "The outcome",
  ]
  follow_up = [
    "How does the team decide what to work on each sprint or quarter?",
  ]
}

topic "influence" {
  kind  = "behavioural"
  title = "Persuading without authority"
  match = [
    "convince someone",
    "convince your team",
    "convinced others to adopt",
    "persuade",
    "influence without authority",
    "get buy in",
    "change someone's mind",
    "sell an idea",
  ]
  points = [
    "Start from the other side's goals and concerns, not from your idea.",
    "Use evidence: data, a prototype, a small pilot that lowers the risk of saying yes.",
    "Find allies and address objections one by one.",
    "Show the outcome, and be gracious if the idea changed along the way.",
  ]
  outline = [
    "Situation — the idea and who needed convincing",
    "Action — understand their concerns, bring evidence, pilot",
    "Result — adoption and impact",
  ]
  follow_up = [
    "How do new ideas usually get adopted here?",
  ]
}

topic "learning" {
  kind  = "behavioural"
  title = "Learning something new quickly"
  match = [
    "learn something new quickly",
    "learn a new technology",
    "outside your comfort zone",
    "new skill",
    "keep your skills up to date",
    "how do you stay current",
    "unfamiliar codebase",
  ]
  points = [
    "Describe your learning loop: docs and fundamentals, a small real task, feedback from an expert.",
    "Give a specific example with how long it took to become productive.",
    "Mention how you share what you learn (notes, a talk, docs) so the team benefits.",
    "Say how you keep up: reading, side projects, communities — briefly.",
  ]
  outline = [
    "Situation — what you had to learn and why",
    "Action — how you learned it, fast",
    "Result — what you delivered with it",
  ]
  follow_up = [
    "What would I need to learn first to be effective here?",
  ]
}

topic "pressure" {
  kind  = "behavioural"
  title = "Working under pressure"
  match = [
    "work under pressure",
    "handle stress",
    "stressful situation",
    "high pressure",
    "stay calm",
  ]
  points = [
    "Show a method: break the problem down, focus on the next step, communicate status.",
    "Give a concrete high-pressure example and what you did first.",
    "Mention how you protect quality and avoid burnout on a sustained push.",
    "Close with the outcome and what you learned about yourself.",
  ]
  outline = [
    "Situation — what made it stressful",
    "Action — how you stayed effective",
    "Result — the outcome",
  ]
  follow_up = [
    "What are the busiest periods for the team, and how do you handle them?",
  ]
}

topic "mentoring" {
  kind  = "behavioural"
  title = "Mentoring and helping others grow"
  match = [
    "mentor",
    "mentored a junior",
    "helped someone grow",
    "onboard a new team member",
    "coach a colleague",
    "teach someone",
  ]
  points = [
    "Describe how you adapted to the person: their goals, level and learning style.",
    "Mention concrete practices: pairing, code review as teaching, gradually bigger tasks.",
    "Show the person's progress as the result.",
    "Say what mentoring taught you.",
  ]
  outline = [
    "Situation — who and what they needed",
    "Action — how you supported them",
    "Result — how they grew",
  ]
  follow_up = [
    "How does mentoring work on the team, both for new hires and for someone at my level?",
  ]
}

topic "ambiguity" {
  kind  = "behavioural"
  title = "Dealing with ambiguity"
  match = [
    "ambiguous requirements",
    "deal with ambiguity",
    "unclear requirements",
    "requirements changed",
    "without clear direction",
    "changing priorities",
    "decision without all the information",
    "incomplete information",
  ]
  points = [
    "Show that you reduce ambiguity actively: ask who the user is and what success looks like.",
    "Write down assumptions and get them confirmed; build the smallest thing that tests them.",
    "Explain how you kept stakeholders informed as things changed.",
    "Give the outcome and how the approach saved rework.",
  ]
  outline = [
    "Situation — what was unclear",
    "Action — questions asked, assumptions written, small steps",
    "Result — what shipped and how it landed",
  ]
  follow_up = [
    "How well defined are projects usually when they reach the engineers?",
  ]
}

topic "difficult-stakeholder" {
  kind  = "behavioural"
  title = "A difficult customer or stakeholder"
  match = [
    "difficult customer",
    "difficult stakeholder",
    "unhappy client",
    "angry customer",
    "demanding stakeholder",
    "manage expectations",
  ]
  points = [
    "Start with empathy: what the stakeholder needed and why they were frustrated.",
    "Show clear communication: what you can do, by when, and what you cannot.",
    "Describe the solution or compromise and how you followed through.",
    "End with the relationship afterwards.",
  ]
  outline = [
    "Situation — the stakeholder and the problem",
    "Action — listen, reset expectations, deliver",
    "Result — outcome and relationship",
  ]
  follow_up = [
    "Who are the main stakeholders this role works with?",
  ]
}

topic "above-and-beyond" {
  kind  = "behavioural"
  title = "Going above and beyond"
  match = [
    "went above and beyond",
    "go the extra mile",
    "exceeded expectations",
    "beyond what was expected",
  ]
  points = [
    "Pick a case where the extra effort served a real need (a user, the team, the business), not heroics for their own sake.",
    "Explain why you noticed the need when others did not.",
    "Describe what you did beyond your remit and how you kept your own commitments.",
    "Give the impact, and whether it became part of how the team works.",
  ]
  outline = [
    "Situation — the expectation and the gap you saw",
    "Action — what you did beyond it",
    "Result — impact, and what changed afterwards",
  ]
  follow_up = [
    "How does the team recognise work that goes beyond the plan?",
  ]
}

topic "communication" {
  kind  = "behavioural"
  title = "Explaining technical things to non-technical people"
  match = [
    "explain a technical concept to a non technical person",
    "non technical stakeholders",
    "communication skills",
    "explain something complex simply",
    "present to executives",
  ]
  points = [
    "Start from what the listener needs to decide or do, not from how it works.",
    "Use an analogy from their world, then one concrete example; drop the jargon.",
    "Check understanding by asking questions rather than asking 'does that make sense?'.",
    "Give a real example: who the audience was, what they decided thanks to your explanation.",
  ]
  outline = [
    "Situation — the audience and what they needed",
    "Action — how you framed it (analogy, example, visual)",
    "Result — the decision or understanding it led to",
  ]
  follow_up = [
    "How much do engineers here work directly with customers or business stakeholders?",
  ]
}

# ------------------------------------------------------------------ technical

topic "system-design" {
  kind  = "technical"
  title = "System design"
  match = [
    "design a system",
    "system design",
    "how would you design",
    "design a url shortener",
    "design a chat application",
    "design a rate limiter",
    "architecture of a service",
    "high level architecture",
  ]
  points = [
    "Clarify requirements first: users, core features, read/write ratio, scale, latency, consistency needs.",
    "Estimate the numbers (requests per second, storage) before choosing components.",
    "Sketch the high-level design: clients, API, services, storage, caches, queues.",
    "Go deep on the hardest part (data model, hot keys, consistency), then on failure modes.",
    "State the trade-offs you made and what you would change at ten times the scale.",
  ]
  outline = [
    "Requirements — functional and non-functional; what is out of scope",
    "Estimates — traffic, storage, bandwidth",
    "High-level design — components and data flow",
    "Deep dive — data model, scaling, caching, consistency",
    "Trade-offs, bottlenecks and failure handling",
  ]
  follow_up = [
    "What does the architecture of your main product look like today, and what are its current pain points?",
  ]
}

topic "debugging" {
  kind  = "technical"
  title = "Debugging approach"
  match = [
    "how do you debug",
    "debugging approach",
    "hardest bug",
    "difficult bug",
    "track down a bug",
    "how do you approach a hard problem",
    "troubleshoot a problem",
    "something is broken in production",
  ]
  points = [
    "Reproduce first — reliably, in the smallest setting you can.",
    "Form hypotheses and test them one at a time: logs, metrics, traces, a debugger, bisecting commits.",
    "Narrow the search space systematically instead of guessing.",
    "After the fix: a regression test, and ask why it was not caught earlier.",
    "Tell a real war story with the root cause and how you found it.",
  ]
  outline = [
    "The symptom and its impact",
    "Reproduction and hypotheses",
    "How you narrowed it down, tools used",
    "Root cause, fix, and prevention",
  ]
  follow_up = [
    "What does observability look like here — logs, metrics, tracing?",
  ]
}

topic "production-incident" {
  kind  = "technical"
  title = "A production incident"
  match = [
    "production incident",
    "outage",
    "on call rotation",
    "got paged",
    "site went down",
    "incident you handled",
    "post mortem",
  ]
  points = [
    "Mitigate first, root-cause later: rollback, feature flag, failover.",
    "Communicate during the incident: status updates, one incident lead.",
    "Explain how the root cause was found.",
    "Describe the blameless post-mortem and the follow-up actions that prevent a repeat.",
  ]
  outline = [
    "Impact — what broke and for whom",
    "Response — detection, mitigation, communication",
    "Root cause",
    "Prevention — actions taken afterwards",
  ]
  follow_up = [
    "How does on-call work on this team, and how often are people paged?",
  ]
}

topic "scaling" {
  kind  = "technical"
  title = "Scaling a system"
  match = [
    "scale a system",
    "scaling",
    "handle more traffic",
    "millions of users",
    "high load",
    "ten times the traffic",
    "bottleneck",
  ]
  points = [
    "Measure before scaling: find the actual bottleneck (CPU, database, network, locks).",
    "Scale reads with caching and replicas; scale writes with partitioning/sharding and queues.",
    "Keep services stateless so they scale horizontally behind a load balancer.",
    "Mention back-pressure, rate limiting and graceful degradation under overload.",
    "Give a concrete example with before/after numbers.",
  ]
  outline = [
    "Measure — where the bottleneck is",
    "Options — cache, replicate, partition, async",
    "Trade-offs — consistency, cost, complexity",
    "Example — what you did and the numbers",
  ]
  follow_up = [
    "What scale does the system handle today, and where do you expect it to hurt first?",
  ]
}

topic "performance" {
  kind  = "technical"
  title = "Performance optimisation"
  match = [
    "performance optimization",
    "make it faster",
    "slow application",
    "improve performance",
    "reduce latency",
    "optimize a query",
  ]
  points = [
    "Profile first: find where the time goes (profiler, flame graphs, query plans).",
    "Fix the biggest cost first: algorithm, I/O, N+1 queries, missing indexes, allocations.",
    "Set a target and measure before and after with a benchmark.",
    "Weigh the complexity an optimisation adds against its gain.",
  ]
  outline = [
    "The problem and the target",
    "Measurement — profile, find the hot spot",
    "The change",
    "Result — before/after numbers",
  ]
  follow_up = [
    "Are there performance goals (SLOs) the team is accountable for?",
  ]
}

topic "testing" {
  kind  = "technical"
  title = "Testing strategy"
  match = [
    "how do you test",
    "testing strategy",
    "unit tests",
    "integration tests",
    "test coverage",
    "test driven development",
    "ensure quality",
  ]
  points = [
    "Describe the pyramid: many fast unit tests, fewer integration tests, a few end-to-end tests.",
    "Test behaviour and contracts, not implementation details.",
    "Tests run in CI on every change; flaky tests get fixed, not ignored.",
    "Mention when you write tests first, and how you test failure paths and edge cases.",
  ]
  outline = [
    "Your philosophy — what tests are for",
    "Levels — unit, integration, end to end",
    "Practice — CI, coverage of risky paths, flaky tests",
    "Example — a bug a test caught",
  ]
  follow_up = [
    "How long does CI take, and how confident are you when you deploy?",
  ]
}

topic "code-review" {
  kind  = "technical"
  title = "Code review"
  match = [
    "code review",
    "review a pull request",
    "reviewing other people's code",
    "what do you look for in a review",
    "pull requests",
  ]
  points = [
    "Look first at correctness and design, then readability and tests; leave style to linters.",
    "Be kind and specific: explain why, suggest alternatives, separate must-fix from nits.",
    "Keep reviews small and fast; review within a day.",
    "Treat review as knowledge sharing both ways.",
  ]
  outline = [
    "What you look for, in order",
    "How you give feedback",
    "How you handle disagreement in review",
  ]
  follow_up = [
    "What does the code review process look like here?",
  ]
}

topic "technical-decision" {
  kind  = "technical"
  title = "A technical decision or trade-off"
  match = [
    "technical decision",
    "trade off",
    "tradeoffs",
    "choose between two approaches",
    "choose a technology",
    "build versus buy",
    "architectural decision",
    "build it yourself or use a library",
    "choose a library or framework",
  ]
  points = [
    "State the options you considered and the criteria: cost, risk, time, team skills, reversibility.",
    "Show how you gathered evidence: a spike, a benchmark, talking to people who had done it.",
    "Explain how the decision was documented and communicated (a design doc, an ADR).",
    "Give the outcome in hindsight — including what you would revisit.",
  ]
  outline = [
    "Context — the problem and the constraints",
    "Options and criteria",
    "Decision and why",
    "Outcome in hindsight",
  ]
  follow_up = [
    "How are technical decisions documented and reviewed here?",
  ]
}

topic "databases" {
  kind  = "technical"
  title = "Databases"
  match = [
    "sql versus nosql",
    "relational database",
    "database design",
    "database index",
    "choose a database",
    "transactions",
    "data model",
    "postgres",
  ]
  points = [
    "Start from access patterns: what is read and written, how often, with what consistency.",
    "Relational databases give transactions, joins and constraints; NoSQL stores trade those for scale or flexibility.",
    "Indexes speed reads and cost writes; check query plans.",
    "Mention migrations, backups and how you scaled (replicas, partitioning).",
  ]
  outline = [
    "Requirements — access patterns and consistency",
    "Choice — and why",
    "Schema and indexes",
    "Operations — migrations, scaling, backups",
  ]
  follow_up = [
    "Which databases does the team run, and what are the main challenges with them?",
  ]
}

topic "api-design" {
  kind  = "technical"
  title = "API design"
  match = [
    "design an api",
    "api design",
    "rest api",
    "rest versus graphql",
    "grpc",
    "versioning an api",
  ]
  points = [
    "Design from the client's use cases; keep resources and names consistent.",
    "Think about errors, pagination, idempotency and authentication from the start.",
    "Version deliberately and avoid breaking changes; deprecate with notice.",
    "Document with examples (OpenAPI or similar) and test the contract.",
  ]
  outline = [
    "Use cases and consumers",
    "Resources, operations and data shapes",
    "Errors, pagination, idempotency, auth",
    "Versioning and documentation",
  ]
  follow_up = [
    "Who consumes the team's APIs — internal teams, customers, partners?",
  ]
}

topic "technical-debt" {
  kind  = "technical"
  title = "Technical debt and legacy code"
  match = [
    "technical debt",
    "tech debt",
    "legacy code",
    "refactor",
    "refactoring",
    "code quality",
    "maintainable code",
  ]
  points = [
    "Treat debt as a business trade-off: quantify its cost (incidents, slowed delivery).",
    "Pay it down incrementally alongside feature work; leave code better than you found it.",
    "For larger rewrites, prefer strangling the old system step by step with tests around it.",
    "Give an example of debt you paid down and the measurable result.",
  ]
  outline = [
    "The debt and its cost",
    "How you made the case",
    "The incremental plan",
    "Result",
  ]
  follow_up = [
    "How does the team balance technical debt against new features?",
  ]
}

topic "security" {
  kind  = "technical"
  title = "Security"
  match = [
    "security",
    "secure an application",
    "authentication and authorization",
    "vulnerability",
    "protect user data",
  ]
  points = [
    "Mention the basics: least privilege, input validation, parameterised queries, secrets out of code.",
    "Authentication versus authorisation, and tokens with sensible lifetimes.",
    "Dependencies patched, security review for risky changes, logs without secrets.",
    "An example of a vulnerability you found or fixed.",
  ]
  outline = [
    "Threats — what could go wrong",
    "Controls — how you defend",
    "Process — reviews, scanning, incident response",
  ]
  follow_up = [
    "How does security fit into the development process here?",
  ]
}

topic "tech-stack" {
  kind  = "technical"
  title = "Languages and tools"
  match = [
    "favorite programming language",
    "which languages do you use",
    "tech stack",
    "experience with go",
    "experience with python",
    "experience with javascript",
    "experience with cloud",
    "kubernetes",
  ]
  points = [
    "Name what you have used in production, for how long and for what.",
    "Be honest about depth: expert in some, familiar with others, eager to learn the rest.",
    "Show you choose tools for the problem, not out of habit.",
    "Relate your experience to their stack.",
  ]
  outline = [
    "Core languages and tools, with years and context",
    "An example of using one well",
    "How you would ramp up on their stack",
  ]
  follow_up = [
    "What does your stack look like, and is anything about to change?",
  ]
}

topic "estimation" {
  kind  = "technical"
  title = "Estimating work"
  match = [
    "how do you estimate",
    "estimation",
    "estimates",
    "how long something will take",
    "underestimated a task",
  ]
  points = [
    "Break the work into small pieces; estimate the pieces, not the whole.",
    "Name the unknowns and give a range, or spike the riskiest part first.",
    "Compare with similar past work and track actuals to calibrate.",
    "Re-estimate and tell people early when something changes.",
  ]
  outline = [
    "Break down",
    "Estimate with ranges and risks",
    "Calibrate and communicate",
  ]
  follow_up = [
    "How does the team plan and estimate — story points, time, no estimates?",
  ]
}

# ---------------------------------------------------------------- situational

topic "underperforming-teammate" {
  kind  = "situational"
  title = "A teammate not pulling their weight"
  match = [
    "teammate not pulling their weight",
    "underperforming teammate",
    "colleague is not doing their part",
    "someone on your team is struggling",
  ]
  points = [
    "Talk to them privately first: assume there is a reason and ask how you can help.",
    "Make expectations and ownership explicit.",
    "Escalate to the manager only if it continues and affects the team, with facts not feelings.",
    "Keep the team's goal in focus throughout.",
  ]
  outline = [
    "Understand — private conversation",
    "Support — clarify, help, pair",
    "Escalate — if needed, with facts",
  ]
  follow_up = [
    "How does the team handle workload imbalances?",
  ]
}

topic "first-90-days" {
  kind  = "situational"
  title = "Your first months in the role"
  match = [
    "first 90 days",
    "first ninety days",
    "first three months",
    "first month",
    "how would you get started in this role",
    "what would you do in your first weeks",
  ]
  points = [
    "First weeks: learn — the product, users, codebase, people; ship a small change early.",
    "By month two: own a meaningful piece of work and build relationships with stakeholders.",
    "By month three: deliver a visible result and propose an improvement you have spotted.",
    "Ask what success would look like for them.",
  ]
  outline = [
    "30 days — learn and ship something small",
    "60 days — own a real piece of work",
    "90 days — deliver and improve",
  ]
  follow_up = [
    "What would success look like for this role after six months?",
  ]
}

topic "product-disagreement" {
  kind  = "situational"
  title = "Disagreeing with a product requirement"
  match = [
    "disagree with a product requirement",
    "product manager wants",
    "requirement you think is wrong",
    "asked to build something you disagree with",
  ]
  points = [
    "Understand the goal behind the requirement before arguing with the solution.",
    "Bring alternatives with their costs, risks and user impact.",
    "Decide together, then commit; revisit with data after launch.",
  ]
  outline = [
    "Understand the goal",
    "Propose alternatives with trade-offs",
    "Decide, commit, measure",
  ]
  follow_up = [
    "How do engineers and product managers share decisions here?",
  ]
}

topic "bug-before-release" {
  kind  = "situational"
  title = "A critical bug right before a release"
  match = [
    "critical bug right before a release",
    "bug just before launch",
    "found a serious issue before shipping",
    "release is tomorrow and you find a bug",
  ]
  points = [
    "Assess first: severity, who is affected, how likely it is, whether a workaround exists.",
    "Raise it immediately with the release owner — with facts, not alarm.",
    "Lay out options: fix and delay, ship behind a feature flag, ship with a known issue and a follow-up.",
    "Let the decision be made with the stakeholders, then add the test that would have caught it.",
  ]
  outline = [
    "Assess the impact",
    "Communicate early with options",
    "Decide together, act, prevent a repeat",
  ]
  follow_up = [
    "How does the team release — how often, and how easy is a rollback?",
  ]
}

topic "remote-work" {
  kind  = "situational"
  title = "Working remotely"
  match = [
    "work remotely",
    "remote work",
    "distributed team",
    "different time zones",
    "working from home",
  ]
  points = [
    "Show habits that make remote work visible: written updates, clear documents, responsive but focused.",
    "Mention how you collaborate across time zones: asynchronous decisions, overlap hours used well.",
    "Give an example of a project you delivered with a distributed team.",
    "Say what you do to stay connected with colleagues.",
  ]
  outline = [
    "How you communicate",
    "How you stay productive",
    "An example",
  ]
  follow_up = [
    "How is the team distributed, and which hours overlap?",
  ]
}

# -------------------------------------------------------------------- closing

topic "why-this-company" {
  kind  = "closing"
  title = "Why this company"
  match = [
    "why do you want to work here",
    "why this company",
    "why join us",
    "why our company",
    "what do you know about our company",
    "why do you want this job",
    "why are you interested in this role",
    "what interests you about the position",
  ]
  points = [
    "Be specific: name the product, the mission or a recent launch that genuinely interests you.",
    "Connect it to your skills: what you would bring to this team.",
    "Connect it to your growth: what you want to learn that this role offers.",
    "Avoid generic praise and avoid leading with perks or salary.",
  ]
  outline = [
    "What attracts you — specific to them",
    "What you bring",
    "What you hope to grow into",
  ]
  follow_up = [
    "What do you enjoy most about working here?",
  ]
}

topic "why-leave" {
  kind  = "closing"
  title = "Why are you leaving"
  match = [
    "why are you leaving your current job",
    "why did you leave your last job",
    "why do you want to leave",
    "why are you looking for a new job",
    "reason for leaving",
    "why did you quit",
    "leave your company",
  ]
  points = [
    "Stay positive: focus on what you are moving towards, not what you are escaping.",
    "Mention growth: scope, technology, impact or domain this role offers.",
    "Never criticise your current employer, manager or colleagues.",
    "If you were laid off, say so briefly and factually.",
  ]
  outline = [
    "What you valued in the current role",
    "What you are looking for next",
    "Why this role offers it",
  ]
  follow_up = [
    "What does growth look like for someone in this role?",
  ]
}

topic "salary" {
  kind  = "closing"
  title = "Salary expectations"
  match = [
    "salary expectations",
    "what salary are you looking for",
    "compensation expectations",
    "how much do you expect to be paid",
    "current salary",
    "desired salary",
    "how much are you hoping to make",
    "how much do you expect to make",
  ]
  points = [
    "Research the market range for the role and location beforehand.",
    "If you can, ask for their budgeted range first.",
    "Give a range anchored on your research, with your target at its lower end or above.",
    "Say you look at the whole package (equity, bonus, benefits, flexibility) and are open to discussion.",
    "You can decline to share your current salary; talk about expectations instead.",
  ]
  outline = [
    "Ask for their range",
    "Give your researched range",
    "Mention the total package and flexibility",
  ]
  follow_up = [
    "What is the budgeted range for this role?",
  ]
}

topic "five-years" {
  kind  = "closing"
  title = "Where do you see yourself in five years"
  match = [
    "where do you see yourself in five years",
    "five years from now",
    "career goals",
    "long term goals",
    "where do you want your career to go",
    "career plans",
  ]
  points = [
    "Show ambition aligned with this role: deeper expertise, more scope, leading larger efforts.",
    "Mention whether you lean towards a technical or a management track — if you know.",
    "Connect your goals to what the company offers.",
    "Keep it credible and flexible; avoid 'in your job'.",
  ]
  outline = [
    "The skills you want to master",
    "The impact or scope you aim for",
    "How this role gets you there",
  ]
  follow_up = [
    "What career paths have people in this role taken here?",
  ]
}

topic "why-hire-you" {
  kind  = "closing"
  title = "Why should we hire you"
  match = [
    "why should we hire you",
    "what makes you the right candidate",
    "what can you bring to the team",
    "why are you a good fit",
    "what sets you apart",
  ]
  points = [
    "Summarise the two or three strongest matches between your experience and their needs.",
    "Back each with a one-line result.",
    "Mention the way you work (ownership, collaboration) that fits their culture.",
    "Finish with enthusiasm for the role.",
  ]
  outline = [
    "Their need → your evidence (repeat two or three times)",
    "How you work",
    "Why you are excited",
  ]
  follow_up = [
    "Is there anything about my background that makes you hesitate? I'd be glad to address it.",
  ]
}

topic "motivation" {
  kind  = "closing"
  title = "What motivates you"
  match = [
    "what motivates you",
    "what drives you",
    "what do you enjoy most about your work",
    "what gets you excited",
    "ideal job",
    "ideal work environment",
    "ideal manager",
    "what are you looking for in your next role",
  ]
  points = [
    "Be genuine and specific: solving hard problems, users' impact, learning, building with a great team.",
    "Give an example of a moment when you felt most motivated.",
    "Tie it to what this role offers.",
  ]
  outline = [
    "What motivates you",
    "An example",
    "How this role provides it",
  ]
  follow_up = [
    "What kind of person thrives on this team?",
  ]
}

topic "questions-for-us" {
  kind  = "closing"
  title = "Do you have any questions for us"
  match = [
    "do you have any questions for us",
    "any questions for me",
    "what questions do you have",
    "anything you would like to ask",
    "is there anything else you want to know",
  ]
  points = [
    "Always ask something — it shows interest. Prepare three or four questions.",
    "Ask about the work: the biggest challenge for the team in the next six months.",
    "Ask about the team: how decisions are made, how success is measured.",
    "Ask about next steps in the process and the timeline.",
  ]
  follow_up = [
    "What would you want the person in this role to accomplish in the first six months?",
    "What is the biggest challenge the team is facing right now?",
    "How do you measure success for this role?",
    "What are the next steps in the process?",
  ]
}

topic "availability" {
  kind  = "closing"
  title = "Notice period and start date"
  match = [
    "when can you start",
    "notice period",
    "start date",
    "other interviews",
    "other offers",
  ]
  points = [
    "Give your notice period honestly and say you will work to make the transition smooth.",
    "If you have other processes, say so briefly without naming companies; it signals demand.",
    "Ask about their timeline to decide.",
  ]
  follow_up = [
    "What is your timeline for making a decision?",
  ]
}

topic "employment-gap" {
  kind  = "situational"
  title = "A gap in your resume"
  match = [
    "gap in your resume",
    "gap in your employment",
    "time off between jobs",
    "what have you been doing since",
  ]
  points = [
    "Explain it briefly and honestly: caregiving, health, study, travel, a layoff — no apology needed.",
    "Mention anything you did to keep skills fresh: courses, projects, open source.",
    "Pivot quickly to why you are ready and excited for this role now.",
  ]
  outline = [
    "The reason, in one or two sentences",
    "What you did during it",
    "Why now, and why this role",
  ]
  follow_up = []
}

# Suggested when the interviewer asks something no topic above matches.
# Delete this block to get no suggestions for unmatched questions.
fallback {
  points = [
    "Take a moment; if the question is unclear, ask a clarifying question.",
    "Answer directly in the first sentence, then support it with one concrete example.",
    "Quantify the result where you can, and say what you learned.",
  ]
  outline = [
    "Direct answer",
    "Example — situation, your action, the result",
    "Link back to this role",
  ]
}
