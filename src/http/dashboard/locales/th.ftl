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
