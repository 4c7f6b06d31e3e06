# The dashboard's words in English (Project Fluent syntax: https://projectfluent.org/).
# th.ftl holds the same messages with the same variables; a unit test checks that both files
# have the same ids, and that every id the templates, the Rust code and dashboard.js use is here.
# Numbers arrive formatted (1,234.56); dates are put together from month-* and date-* below.

## Page chrome

page-dashboard = Production dashboard
page-tenants = Production dashboards
page-login = Log in
all-tenants = All factories
log-out = Log out
instance-title = The flowtally instance serving this page, and its role
prefs-label = Display
lang-label = Language
lang-name-th = ไทย
lang-name-en = English
theme-label = Theme
theme-auto = Auto
theme-dark = Dark
theme-light = Light
view-wall = Wall screen
view-desk = Desk view

## Key figures

kpi-heading = Key figures
kpi-wip-title = Work in progress
kpi-wip-note = pieces at a station now
kpi-queued-title = Waiting
kpi-queued-note = ready, or waiting for an operator
kpi-in-work-title = Being worked on
kpi-in-work-note = started or paused
kpi-completed-title = Assignments completed today
kpi-completed-note = since 00:00
kpi-throughput-title = Pieces finished per day
kpi-throughput-note = average of the last 7 days
kpi-lead-title = Lead time
kpi-lead-note = average from start to finish, last 7 days
unit-pieces = pieces
unit-assignments = assignments
unit-pieces-per-day = pieces a day

## Status

status-heading = Status
notice-ok = Live: the figures below follow the ERP as work is recorded.
notice-tenant-problem = { $code } has a problem; its figures may be out of date:
notice-sink-failing = The snapshots of { $code } cannot be saved ({ $attempts ->
        [one] one attempt
       *[other] { $attempts } attempts
    } so far, retried). The figures here are live; the saved report tables lag behind:
notice-lagging = The figures are { $lag } behind the ERP.
notice-lagging-unknown = No news from the ERP's database for a while: the figures may be late.
notice-reconnecting = Reconnecting to the ERP's database:
notice-connecting = Connecting to the ERP's database and reading the factories…
notice-recomputing = Counting everything again from the ERP's tables: { $rows } rows read so far.
notice-loading = { $code } is being loaded from the ERP; its figures appear when the load is done.
notice-gone = This factory is no longer served (see the list of all factories).
section-error = This part of the page could not be drawn:

## Bottlenecks

bottlenecks-heading = Bottlenecks
bottlenecks-sub = the 10 stations where work piles up most
bottlenecks-empty = No piece is waiting or being worked on.
col-station = Station
col-queue = Waiting
col-avg-wait = Average wait
col-score = Score
col-score-bar = Score bar

## Team workload

workload-heading = Team workload
workload-sub = pieces against what the team can do in a day
workload-empty = No active team.
workload-no-capacity = no capacity set
col-team = Team
col-category = Category
col-active = Working
col-waiting = Waiting
col-load = Load
col-load-bar = Load bar

## Work in progress by station and team

heatmap-heading = Work in progress by station and team
heatmap-sub = one map per route; darker is more
heatmap-empty = No work in progress.
heatmap-graph = Route { $id }
heatmap-no-graph = No route
heat-cell-title = { $wip } in progress, { $queued } waiting
col-total = Total
team-none = No team

## Time per station

cycle-heading = Time per station
cycle-period = { $from } to { $to }
cycle-period-none = no work finished in the last 7 days
cycle-empty = No assignment was completed in the last 7 days.
col-p50 = Median
col-p95 = 95% within
col-avg = Average
col-count = Assignments

## Work in progress, last hours

spark-heading = Work in progress and waiting, last hours
spark-sub = { $n } one-minute readings
spark-sub-none = no reading yet
spark-legend-wip = in progress
spark-legend-queued = waiting
spark-empty = The line starts after two readings.
spark-figure = Pieces in progress and waiting at each minute of the last hours; the table below has the values
spark-table = Table: in progress and waiting by minute
col-minute = Minute
col-wip = In progress

## Trends

trends-heading = Trends, last 30 days
trends-sub = by production type; the shaded days are the last 7
trends-empty = No piece was started or finished in the last 30 days.
trends-table = Table: the daily figures behind the charts
col-ptype = Production type
col-last-7 = Last 7 days
col-last-30 = Last 30 days
col-finished = Finished
col-per-day = Per day
col-lead = Lead time
col-day = Day
col-started = Started
chart-spawned = Pieces started per day
chart-completed = Pieces finished per day
chart-throughput = Pieces finished per day, 7-day average
chart-lead = Average lead time (hours)
chart-aria = { $title }, one line per production type over the last 30 days; the table below has the values
ptype-hatthasilpa = Hatthasilpa
ptype-classic = Classic
ptype-unspecified = Unspecified

## Service details (the footer)

eng-heading = Service details
eng-at = Figures as of
eng-freshness = Data delay
eng-caught-up = caught up
eng-behind = { $lag } behind
eng-last-snapshot = Last snapshot saved
eng-none-yet = none yet
eng-served-by = Served by
eng-source = Every figure is computed from the live state at the instant shown: the same rows as a snapshot saved at that instant, and as
phase-connecting = connecting
phase-recomputing = counting again
phase-reconnecting = reconnecting
phase-streaming = live
role-single = single instance
role-leader = leader
role-standby = standby

## The list of factories

col-tenant = Factory
col-state = State
col-last-snapshot = Last snapshot saved
tenants-empty = No factory to show yet.
state-serving = serving
state-loading = loading
state-problem = problem:
state-not-served = not served
service-ok = Live and caught up (delay { $secs } s).
service-sink-failing = The snapshots of { $n ->
        [one] one factory
       *[other] { $n } factories
    } cannot be saved (retried):

## Logging in

login-intro = Log in to read the production dashboards.
login-token-legend = With an access token
login-token = Token
login-user-legend = Or with a user name and password
login-user = User
login-password = Password
login-button = Log in
login-error = Not recognised: check the token, or the user name and password.

## Pages that only say something

msg-unknown-title = Unknown factory
msg-unknown = No factory “{ $code }” is served here.
msg-loading-title = Loading
msg-loading = { $code } is being loaded from the ERP; this page reloads in 5 seconds.
msg-forbidden-title = Not allowed
msg-forbidden-tenant = Not allowed: this login may not read factory “{ $code }”.
msg-forbidden-metrics = Not allowed: reading the metrics needs a login for every factory.
msg-error-title = Error
msg-error = The page could not be drawn:

## The page's script (dashboard.js)

js-connecting = connecting…
js-live = live
js-tenant-loading = loading
js-not-served = not served
js-reconnecting = reconnecting…
js-signed-out = signed out
js-log-in-again = log in again
js-not-allowed = not allowed
js-stale = no update for { $secs } s

## Durations, dates

dur-s = { $s } s
dur-m = { $m } min
dur-h = { $h } h
dur-h-m = { $h } h { $m } min
dur-d = { $d } d
dur-d-h = { $d } d { $h } h
date = { $day } { $month } { $year }
day-month = { $day } { $month }
date-time = { $date }, { $time }
month-1 = Jan
month-2 = Feb
month-3 = Mar
month-4 = Apr
month-5 = May
month-6 = Jun
month-7 = Jul
month-8 = Aug
month-9 = Sep
month-10 = Oct
month-11 = Nov
month-12 = Dec
clock = { $time }

## Against yesterday (the key figures)

kpi-yesterday = yesterday { $time }: { $then } ({ $delta })

## The alert list: what needs a person (andon)

alerts-heading = Needs a person
alerts-sub = red: over a limit · amber: close to it
alerts-none = Nothing needs a person: every figure is within its limits.
alerts-for = for { $lasting }
alerts-more = … and { $n } more (the desk page lists them all)
col-level = Level
col-where = Where
col-what = What
col-now = Now
col-limit = Limit
col-since = Since
andon-red = Red
andon-amber = Amber
andon-kind-wip-limit = Over its WIP limit
andon-kind-team-load = Team at capacity
andon-kind-wait = Long average wait
andon-kind-queue-growth = Queue growing fast
andon-kind-token-age = Piece held up at the station
andon-token = piece { $id }
andon-pieces = { $count ->
        [one] { $n } piece
       *[other] { $n } pieces
    }
andon-pieces-more = { $count ->
        [one] +{ $n } piece
       *[other] +{ $n } pieces
    }
andon-about = { $level }: { $what }, { $figure } (limit { $limit }), since { $since }, for { $lasting }

## A station's page (drill-down)

node-crumb = Station
node-heading = Pieces at
node-limit = WIP limit { $limit }
node-no-limit = no WIP limit set
node-empty = No piece is at this station now.
node-not-assigned-here = not yet assigned here
node-more = The { $shown } longest here are shown.
node-more-rest = { $more } more are at this station (the API lists more with ?limit=).
node-age-note = A piece's time here counts from its assignment at this station (the ERP records when a piece was assigned here, not when it arrived); pieces not yet assigned here have none and come last.
col-piece = Piece
col-here-for = Here for
col-here-since = Here since
col-operator = Operator
col-assignment = Assignment
token-ready = ready
token-waiting = waiting
token-active = being worked on
token-paused = paused
assignment-assigned = assigned
assignment-accepted = accepted
assignment-started = started
assignment-paused = paused
back-to-dashboard = Back to the dashboard

## A team's page (drill-down)

team-heading = Operators of
team-tokens = Pieces
team-capacity = for a capacity of { $n } a day
team-empty = No active member and no piece.
team-not-member = (not an active member)
col-capacity = Capacity

## Pages that only say something, about a station or a team

msg-bad-id-title = Not a number
msg-bad-node = The station id “{ $id }” is not a number: use the id from the ERP (e.g. 12).
msg-bad-team = The team id “{ $id }” is not a number: use the id from the ERP (e.g. 12).
msg-unknown-node-title = Unknown station
msg-unknown-node = { $code } has no station { $id }.
msg-unknown-team-title = Unknown team
msg-unknown-team = { $code } has no team { $id }.

## CSV downloads (with ?lang: the header in words, and the values that are words)

csv-download = Download CSV
csv-yes = yes
csv-no = no
csv-subject-node = station
csv-subject-team = team
csv-subject-token = piece
csv-graph-id = Route id
csv-graph-name = Route
csv-node-id = Station id
csv-node-code = Station code
csv-node-name = Station
csv-team-id = Team id
csv-team-name = Team
csv-team-category = Category
csv-wip-count = Work in progress (pieces)
csv-waiting-count = Waiting (pieces)
csv-completed-count = Completed (pieces)
csv-queue-depth = Waiting (pieces)
csv-avg-wait-minutes = Average wait (min)
csv-bottleneck-score = Score
csv-wip-limit = WIP limit (pieces)
csv-active-tokens = Working (pieces)
csv-waiting-tokens = Waiting (pieces)
csv-avg-load = Load (%)
csv-period-start = From
csv-period-end = To
csv-token-count = Assignments
csv-avg-minutes = Average (min)
csv-p50-minutes = Median (min)
csv-p95-minutes = 95% within (min)
csv-period-date = Day
csv-production-type = Production type
csv-tokens-spawned = Started (pieces)
csv-tokens-completed = Finished (pieces)
csv-avg-lead-time-hours = Lead time (h)
csv-throughput-per-day = Finished a day, 7-day average (pieces)
csv-level = Level
csv-kind = What
csv-subject-type = About
csv-subject-id = Id
csv-label = Where
csv-figure = Now
csv-limit = Limit
csv-since = Since
csv-token-id = Piece
csv-status = State
csv-queued = Waiting
csv-age-minutes = Here for (min)
csv-operator-id = Operator
csv-assignment-id = Assignment
csv-assignment-status = Assignment state
csv-spawned-at = Started at
csv-capacity = Capacity (pieces a day)
csv-load = Load (%)
csv-active-member = Active member
csv-minute = Minute
csv-wip = Work in progress (pieces)
