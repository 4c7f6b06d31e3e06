# คำบนแดชบอร์ดภาษาไทย (รูปแบบ Project Fluent: https://projectfluent.org/).
# The same messages as en.ftl, with the same variables (a unit test checks both). Dates use the
# Buddhist era (the year + 543, put in by the code) and Thai month names.

## Page chrome

page-dashboard = แดชบอร์ดการผลิต
page-tenants = แดชบอร์ดการผลิต
page-login = เข้าสู่ระบบ
all-tenants = โรงงานทั้งหมด
log-out = ออกจากระบบ
instance-title = เครื่อง flowtally ที่ให้บริการหน้านี้ และบทบาทของเครื่อง
prefs-label = การแสดงผล
lang-label = ภาษา
lang-name-th = ไทย
lang-name-en = English
theme-label = ธีม
theme-auto = อัตโนมัติ
theme-dark = มืด
theme-light = สว่าง
view-wall = จอติดผนัง
view-desk = มุมมองปกติ

## Key figures

kpi-heading = ตัวเลขหลัก
kpi-wip-title = งานระหว่างผลิต
kpi-wip-note = ชิ้นงานที่อยู่ตามสถานีตอนนี้
kpi-queued-title = รอดำเนินการ
kpi-queued-note = พร้อมทำ หรือรอช่าง
kpi-in-work-title = กำลังทำ
kpi-in-work-note = เริ่มแล้ว หรือพักไว้
kpi-completed-title = งานมอบหมายที่เสร็จวันนี้
kpi-completed-note = ตั้งแต่ 00:00 น.
kpi-throughput-title = ชิ้นงานที่เสร็จต่อวัน
kpi-throughput-note = เฉลี่ย 7 วันล่าสุด
kpi-lead-title = ระยะเวลาผลิต
kpi-lead-note = เฉลี่ยตั้งแต่เริ่มจนเสร็จ 7 วันล่าสุด
unit-pieces = ชิ้น
unit-assignments = งาน
unit-pieces-per-day = ชิ้นต่อวัน

## Status

status-heading = สถานะ
notice-ok = ข้อมูลสด: ตัวเลขด้านล่างอัปเดตทันทีที่มีการบันทึกงาน
notice-tenant-problem = { $code } มีปัญหา ตัวเลขอาจไม่เป็นปัจจุบัน:
notice-sink-failing = บันทึกสแนปช็อตของ { $code } ไม่สำเร็จ (พยายามแล้ว { $attempts } ครั้ง กำลังลองใหม่) ตัวเลขในหน้านี้ยังเป็นข้อมูลสด แต่ตารางรายงานที่บันทึกไว้ตามหลังอยู่:
notice-lagging = ตัวเลขตามหลังฐานข้อมูลอยู่ { $lag }
notice-lagging-unknown = ไม่ได้รับข่าวจากฐานข้อมูลมาระยะหนึ่ง ตัวเลขอาจล่าช้า
notice-reconnecting = กำลังเชื่อมต่อฐานข้อมูลใหม่:
notice-connecting = กำลังเชื่อมต่อฐานข้อมูลและอ่านรายชื่อโรงงาน…
notice-recomputing = กำลังคำนวณใหม่ทั้งหมดจากตารางในฐานข้อมูล อ่านแล้ว { $rows } แถว
notice-loading = กำลังโหลดข้อมูลของ { $code } ตัวเลขจะแสดงเมื่อโหลดเสร็จ
notice-gone = โรงงานนี้ไม่ได้ให้บริการแล้ว (ดูรายชื่อโรงงานทั้งหมด)
section-error = ส่วนนี้ของหน้าแสดงผลไม่ได้:

## Bottlenecks

bottlenecks-heading = คอขวด
bottlenecks-sub = 10 สถานีที่งานค้างมากที่สุด
bottlenecks-empty = ไม่มีชิ้นงานที่รอหรือกำลังทำ
col-station = สถานีงาน
col-queue = รอ
col-avg-wait = เวลารอเฉลี่ย
col-score = คะแนน
col-score-bar = แถบคะแนน

## Team workload

workload-heading = ภาระงานของทีม
workload-sub = ชิ้นงานเทียบกับกำลังการผลิตต่อวันของทีม
workload-empty = ไม่มีทีมที่ทำงานอยู่
workload-no-capacity = ไม่ได้กำหนดกำลังการผลิต
col-team = ทีม
col-category = ประเภท
col-active = กำลังทำ
col-waiting = รอ
col-load = ภาระงาน
col-load-bar = แถบภาระงาน

## Work in progress by station and team

heatmap-heading = งานระหว่างผลิตตามสถานีและทีม
heatmap-sub = แยกตามเส้นทางการผลิต สีเข้มคืองานมาก
heatmap-empty = ไม่มีงานระหว่างผลิต
heatmap-graph = เส้นทาง { $id }
heatmap-no-graph = ไม่มีเส้นทาง
heat-cell-title = ระหว่างผลิต { $wip } รอ { $queued }
col-total = รวม
team-none = ไม่มีทีม

## Time per station

cycle-heading = เวลาต่อสถานี
cycle-period = { $from } ถึง { $to }
cycle-period-none = ไม่มีงานที่เสร็จใน 7 วันล่าสุด
cycle-empty = ไม่มีงานมอบหมายที่เสร็จใน 7 วันล่าสุด
col-p50 = ค่ามัธยฐาน
col-p95 = 95% เสร็จภายใน
col-avg = เฉลี่ย
col-count = จำนวนงาน

## Work in progress, last hours

spark-heading = งานระหว่างผลิตและงานรอ ชั่วโมงที่ผ่านมา
spark-sub = { $n } จุดข้อมูล นาทีละจุด
spark-sub-none = ยังไม่มีข้อมูล
spark-legend-wip = ระหว่างผลิต
spark-legend-queued = รอ
spark-empty = เส้นกราฟจะแสดงเมื่อมีข้อมูลสองจุดขึ้นไป
spark-figure = ชิ้นงานระหว่างผลิตและงานรอในแต่ละนาทีของชั่วโมงที่ผ่านมา ค่าอยู่ในตารางด้านล่าง
spark-table = ตาราง: งานระหว่างผลิตและงานรอรายนาที
col-minute = นาที
col-wip = ระหว่างผลิต

## Trends

trends-heading = แนวโน้ม 30 วันล่าสุด
trends-sub = แยกตามประเภทการผลิต ช่วงที่แรเงาคือ 7 วันล่าสุด
trends-empty = ไม่มีชิ้นงานที่เริ่มหรือเสร็จใน 30 วันล่าสุด
trends-table = ตาราง: ตัวเลขรายวันของกราฟ
col-ptype = ประเภทการผลิต
col-last-7 = 7 วันล่าสุด
col-last-30 = 30 วันล่าสุด
col-finished = เสร็จ
col-per-day = ต่อวัน
col-lead = ระยะเวลาผลิต
col-day = วันที่
col-started = เริ่ม
chart-spawned = ชิ้นงานที่เริ่มต่อวัน
chart-completed = ชิ้นงานที่เสร็จต่อวัน
chart-throughput = ชิ้นงานที่เสร็จต่อวัน เฉลี่ย 7 วัน
chart-lead = ระยะเวลาผลิตเฉลี่ย (ชั่วโมง)
chart-aria = { $title } เส้นละหนึ่งประเภทการผลิต ตลอด 30 วันล่าสุด ค่าอยู่ในตารางด้านล่าง
ptype-hatthasilpa = หัตถศิลป์
ptype-classic = คลาสสิก
ptype-unspecified = ไม่ระบุ

## Service details (the footer)

eng-heading = รายละเอียดระบบ
eng-at = ตัวเลข ณ
eng-freshness = ความล่าช้าของข้อมูล
eng-caught-up = ทันปัจจุบัน
eng-behind = ช้า { $lag }
eng-last-snapshot = บันทึกสแนปช็อตล่าสุด
eng-none-yet = ยังไม่มี
eng-served-by = ให้บริการโดย
eng-source = ตัวเลขทุกตัวคำนวณจากสถานะสด ณ เวลาที่แสดง เป็นแถวเดียวกับสแนปช็อตที่บันทึก ณ เวลานั้น และกับ
phase-connecting = กำลังเชื่อมต่อ
phase-recomputing = กำลังคำนวณใหม่
phase-reconnecting = กำลังเชื่อมต่อใหม่
phase-streaming = สด
role-single = เครื่องเดียว
role-leader = เครื่องหลัก
role-standby = เครื่องสำรอง

## The list of factories

col-tenant = โรงงาน
col-state = สถานะ
col-last-snapshot = บันทึกสแนปช็อตล่าสุด
tenants-empty = ยังไม่มีโรงงานที่จะแสดง
state-serving = ให้บริการ
state-loading = กำลังโหลด
state-problem = มีปัญหา:
state-not-served = ไม่ได้ให้บริการ
service-ok = ข้อมูลสดและทันปัจจุบัน (ล่าช้า { $secs } วินาที)
service-sink-failing = บันทึกสแนปช็อตของ { $n } โรงงานไม่สำเร็จ (กำลังลองใหม่):

## Logging in

login-intro = เข้าสู่ระบบเพื่อดูแดชบอร์ดการผลิต
login-token-legend = ด้วยโทเค็นสำหรับเข้าใช้
login-token = โทเค็น
login-user-legend = หรือด้วยชื่อผู้ใช้และรหัสผ่าน
login-user = ชื่อผู้ใช้
login-password = รหัสผ่าน
login-button = เข้าสู่ระบบ
login-error = ไม่ถูกต้อง: ตรวจสอบโทเค็น หรือชื่อผู้ใช้และรหัสผ่าน

## Pages that only say something

msg-unknown-title = ไม่พบโรงงาน
msg-unknown = ไม่มีโรงงาน “{ $code }” ที่ให้บริการที่นี่
msg-loading-title = กำลังโหลด
msg-loading = กำลังโหลดข้อมูลของ { $code } หน้านี้จะโหลดใหม่ใน 5 วินาที
msg-forbidden-title = ไม่มีสิทธิ์
msg-forbidden-tenant = ไม่มีสิทธิ์: บัญชีนี้ดูข้อมูลโรงงาน “{ $code }” ไม่ได้
msg-forbidden-metrics = ไม่มีสิทธิ์: การอ่านเมตริกต้องใช้บัญชีที่ดูได้ทุกโรงงาน
msg-error-title = ข้อผิดพลาด
msg-error = แสดงหน้านี้ไม่ได้:

## The page's script (dashboard.js)

js-connecting = กำลังเชื่อมต่อ…
js-live = สด
js-tenant-loading = กำลังโหลด
js-not-served = ไม่ได้ให้บริการ
js-reconnecting = กำลังเชื่อมต่อใหม่…
js-signed-out = ออกจากระบบแล้ว
js-log-in-again = เข้าสู่ระบบอีกครั้ง
js-not-allowed = ไม่มีสิทธิ์
js-stale = ไม่มีการอัปเดต { $secs } วินาที

## Durations, dates

dur-s = { $s } วินาที
dur-m = { $m } นาที
dur-h = { $h } ชม.
dur-h-m = { $h } ชม. { $m } นาที
dur-d = { $d } วัน
dur-d-h = { $d } วัน { $h } ชม.
date = { $day } { $month } { $year }
day-month = { $day } { $month }
date-time = { $date } { $time } น.
month-1 = ม.ค.
month-2 = ก.พ.
month-3 = มี.ค.
month-4 = เม.ย.
month-5 = พ.ค.
month-6 = มิ.ย.
month-7 = ก.ค.
month-8 = ส.ค.
month-9 = ก.ย.
month-10 = ต.ค.
month-11 = พ.ย.
month-12 = ธ.ค.
clock = { $time } น.

## เทียบกับเมื่อวาน (ตัวเลขหลัก)

kpi-yesterday = เมื่อวาน { $time }: { $then } ({ $delta })

## รายการแจ้งเตือน: จุดที่ต้องมีคนเข้าไปดู (อันดง)

alerts-heading = จุดที่ต้องมีคนเข้าไปดู
alerts-sub = แดง: เกินขีดจำกัด · เหลือง: ใกล้ถึงขีดจำกัด
alerts-none = ไม่มีจุดที่ต้องเข้าไปดู ทุกตัวเลขอยู่ในเกณฑ์
alerts-for = นาน { $lasting }
alerts-more = … และอีก { $n } รายการ (ดูทั้งหมดในมุมมองปกติ)
col-level = ระดับ
col-where = ที่ไหน
col-what = เรื่อง
col-now = ตอนนี้
col-limit = ขีดจำกัด
col-since = ตั้งแต่
andon-red = แดง
andon-amber = เหลือง
andon-kind-wip-limit = งานค้างเกินขีดจำกัด
andon-kind-team-load = ทีมรับงานเต็มกำลัง
andon-kind-wait = รอนานเกินเกณฑ์
andon-kind-queue-growth = งานรอเพิ่มขึ้นเร็ว
andon-kind-token-age = ชิ้นงานค้างที่สถานีนาน
andon-token = ชิ้นงาน { $id }
andon-pieces = { $count ->
       *[other] { $n } ชิ้น
    }
andon-pieces-more = { $count ->
       *[other] +{ $n } ชิ้น
    }
andon-about = { $level }: { $what } { $figure } (ขีดจำกัด { $limit }) ตั้งแต่ { $since } นาน { $lasting }

## หน้าของสถานีงาน

node-crumb = สถานี
node-heading = ชิ้นงานที่สถานี
node-limit = ขีดจำกัด { $limit } ชิ้น
node-no-limit = ไม่ได้กำหนดขีดจำกัด
node-empty = ตอนนี้ไม่มีชิ้นงานที่สถานีนี้
node-not-assigned-here = ยังไม่ได้มอบหมายที่สถานีนี้
node-more = แสดง { $shown } ชิ้นที่อยู่นานที่สุด
node-more-rest = ยังมีอีก { $more } ชิ้นที่สถานีนี้
node-age-note = เวลาที่อยู่ที่สถานีนับจากตอนที่มอบหมายงานที่สถานีนี้ (ระบบบันทึกเวลามอบหมาย ไม่ได้บันทึกเวลาที่ชิ้นงานมาถึง) ชิ้นงานที่ยังไม่ได้มอบหมายที่นี่จึงไม่มีเวลา และอยู่ท้ายตาราง
col-piece = ชิ้นงาน
col-here-for = อยู่ที่นี่มา
col-here-since = อยู่ตั้งแต่
col-operator = ช่าง
col-assignment = งานมอบหมาย
token-ready = พร้อมทำ
token-waiting = รอ
token-active = กำลังทำ
token-paused = พักไว้
assignment-assigned = มอบหมายแล้ว
assignment-accepted = รับงานแล้ว
assignment-started = เริ่มทำแล้ว
assignment-paused = พักไว้
back-to-dashboard = กลับไปที่แดชบอร์ด

## หน้าของทีม

team-heading = ช่างในทีม
team-tokens = ชิ้นงาน
team-capacity = กำลังการผลิต { $n } ชิ้นต่อวัน
team-empty = ไม่มีช่างที่ทำงานอยู่ และไม่มีชิ้นงาน
team-not-member = (ไม่ใช่สมาชิกที่ทำงานอยู่)
col-capacity = กำลังการผลิต

## หน้าที่แจ้งเรื่องสถานีหรือทีม

msg-bad-id-title = รหัสไม่ถูกต้อง
msg-bad-node = รหัสสถานี “{ $id }” ไม่ใช่ตัวเลข ใช้รหัสจากระบบ (เช่น 12)
msg-bad-team = รหัสทีม “{ $id }” ไม่ใช่ตัวเลข ใช้รหัสจากระบบ (เช่น 12)
msg-unknown-node-title = ไม่พบสถานี
msg-unknown-node = { $code } ไม่มีสถานีรหัส { $id }
msg-unknown-team-title = ไม่พบทีม
msg-unknown-team = { $code } ไม่มีทีมรหัส { $id }

## ดาวน์โหลดตาราง (ใส่ ?lang: หัวตารางและค่าที่เป็นคำเป็นภาษาไทย)

csv-download = ดาวน์โหลดตาราง
csv-yes = ใช่
csv-no = ไม่ใช่
csv-subject-node = สถานี
csv-subject-team = ทีม
csv-subject-token = ชิ้นงาน
csv-graph-id = รหัสเส้นทาง
csv-graph-name = เส้นทางการผลิต
csv-node-id = รหัสสถานี
csv-node-code = โค้ดสถานี
csv-node-name = สถานีงาน
csv-team-id = รหัสทีม
csv-team-name = ทีม
csv-team-category = ประเภททีม
csv-wip-count = ระหว่างผลิต (ชิ้น)
csv-waiting-count = รอ (ชิ้น)
csv-completed-count = เสร็จ (ชิ้น)
csv-queue-depth = รอ (ชิ้น)
csv-avg-wait-minutes = เวลารอเฉลี่ย (นาที)
csv-bottleneck-score = คะแนน
csv-wip-limit = ขีดจำกัดงานค้าง (ชิ้น)
csv-active-tokens = กำลังทำ (ชิ้น)
csv-waiting-tokens = รอ (ชิ้น)
csv-avg-load = ภาระงาน (%)
csv-period-start = ตั้งแต่วันที่
csv-period-end = ถึงวันที่
csv-token-count = จำนวนงาน
csv-avg-minutes = เฉลี่ย (นาที)
csv-p50-minutes = ค่ามัธยฐาน (นาที)
csv-p95-minutes = 95% เสร็จภายใน (นาที)
csv-period-date = วันที่
csv-production-type = ประเภทการผลิต
csv-tokens-spawned = เริ่ม (ชิ้น)
csv-tokens-completed = เสร็จ (ชิ้น)
csv-avg-lead-time-hours = ระยะเวลาผลิต (ชั่วโมง)
csv-throughput-per-day = เสร็จต่อวัน เฉลี่ย 7 วัน (ชิ้น)
csv-level = ระดับ
csv-kind = เรื่อง
csv-subject-type = เกี่ยวกับ
csv-subject-id = รหัส
csv-label = ที่ไหน
csv-figure = ตอนนี้
csv-limit = ขีดจำกัด
csv-since = ตั้งแต่
csv-token-id = ชิ้นงาน
csv-status = สถานะ
csv-queued = รออยู่
csv-age-minutes = อยู่ที่นี่มา (นาที)
csv-operator-id = ช่าง
csv-assignment-id = งานมอบหมาย
csv-assignment-status = สถานะงานมอบหมาย
csv-spawned-at = เริ่มเมื่อ
csv-capacity = กำลังการผลิต (ชิ้นต่อวัน)
csv-load = ภาระงาน (%)
csv-active-member = ยังเป็นสมาชิก
csv-minute = นาที
csv-wip = ระหว่างผลิต (ชิ้น)
