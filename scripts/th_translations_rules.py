"""Thai translations for the rules work; merged into TH by th_translations.py."""

TH = {
    # loyalty/services/earn_engine.py: the explanation of every earn
    "bill": "ทั้งบิล",
    "The bill has no lines: its total of %(total)s THB is one line.":
        "บิลไม่มีรายการสินค้า: ยอดรวม %(total)s บาทนับเป็นหนึ่งรายการ",
    "The lines add up to %(lines)s THB but the bill is %(total)s THB: each line is scaled pro rata to the bill.":
        "รายการสินค้ารวมกันได้ %(lines)s บาท แต่ยอดบิลคือ %(total)s บาท: ปรับยอดแต่ละรายการตามสัดส่วนให้เท่ายอดบิล",
    "The lines carry no amounts: the bill of %(total)s THB is shared by quantity.":
        "รายการสินค้าไม่มียอดเงิน: แบ่งยอดบิล %(total)s บาทตามจำนวนชิ้น",
    "Rule %(rule)s does not apply: the bill is below its minimum of %(minimum)s THB.":
        "ไม่ใช้กติกา %(rule)s: ยอดบิลต่ำกว่าขั้นต่ำ %(minimum)s บาท",
    "Line %(number)s (%(line)s, %(amount)s THB): no earn rule matches, no points.":
        "รายการที่ %(number)s (%(line)s, %(amount)s บาท): ไม่มีกติกาการสะสมแต้มที่ตรง ไม่ได้แต้ม",
    "Line %(number)s (%(line)s, %(amount)s THB): excluded by rule %(rule)s (0 points).":
        "รายการที่ %(number)s (%(line)s, %(amount)s บาท): ไม่ได้แต้มตามกติกา %(rule)s (0 แต้ม)",
    "Line %(number)s (%(line)s, %(amount)s THB): rule %(rule)s → %(points)s points.":
        "รายการที่ %(number)s (%(line)s, %(amount)s บาท): กติกา %(rule)s → %(points)s แต้ม",
    "Rounding (%(mode)s) per line: %(points)s base points.":
        "การปัดเศษ (%(mode)s) ทีละรายการ: แต้มพื้นฐาน %(points)s แต้ม",
    "Rounding (%(mode)s) on the bill: %(exact)s → %(points)s base points.":
        "การปัดเศษ (%(mode)s) ทั้งบิล: %(exact)s → แต้มพื้นฐาน %(points)s แต้ม",
    "outside its dates (%(starts)s – %(ends)s)": "อยู่นอกช่วงวันที่ของโปรโมชัน (%(starts)s – %(ends)s)",
    "outside its hours (%(start)s–%(end)s)": "อยู่นอกช่วงเวลาของโปรโมชัน (%(start)s–%(end)s)",
    "not on this day of the week": "ไม่ใช่วันในสัปดาห์ที่กำหนด",
    "not for this member's tier": "ไม่ใช่ระดับสมาชิกที่กำหนด",
    "not for this branch": "ไม่ใช่สาขาที่กำหนด",
    "not for this channel": "ไม่ใช่ช่องทางที่กำหนด",
    "the bill is below its minimum of %(minimum)s THB": "ยอดบิลต่ำกว่าขั้นต่ำ %(minimum)s บาท",
    "the bill is 0 THB": "ยอดบิลเป็น 0 บาท",
    "bonus for the bill": "โบนัสต่อบิล",
    "%(bonus)s per item × %(quantity)s items": "%(bonus)s แต้มต่อชิ้น × %(quantity)s ชิ้น",
    "×%(multiplier)s on %(base)s base points": "×%(multiplier)s จากแต้มพื้นฐาน %(base)s แต้ม",
    "Promotion “%(name)s” is not active: shown for this preview only.":
        "โปรโมชัน “%(name)s” ยังไม่เปิดใช้งาน: แสดงในการทดลองคำนวณนี้เท่านั้น",
    "Promotion “%(name)s” skipped: stopped by the exclusive promotion “%(by)s”.":
        "ไม่ใช้โปรโมชัน “%(name)s”: โปรโมชันเฉพาะ “%(by)s” ใช้ไปแล้ว",
    "no line of the bill earns from it": "ไม่มีรายการใดในบิลที่ได้แต้มจากโปรโมชันนี้",
    "Promotion “%(name)s” skipped: %(why)s.": "ไม่ใช้โปรโมชัน “%(name)s”: %(why)s",
    "capped at %(cap)s points per bill": "จำกัดที่ %(cap)s แต้มต่อบิล",
    "cap per member not checked (no member)": "ไม่ได้ตรวจเพดานต่อสมาชิก (ไม่ได้ระบุสมาชิก)",
    "capped at %(cap)s points per member %(period)s (%(used)s already given)":
        "จำกัดที่ %(cap)s แต้มต่อสมาชิก %(period)s (ให้ไปแล้ว %(used)s แต้ม)",
    "cut to %(points)s by the brand's cap of %(cap)s bonus points per bill":
        "ลดเหลือ %(points)s แต้มตามเพดานโบนัสของแบรนด์ %(cap)s แต้มต่อบิล",
    "Promotion “%(name)s”: +%(points)s points (%(how)s).": "โปรโมชัน “%(name)s”: +%(points)s แต้ม (%(how)s)",
    "Promotion “%(name)s” is exclusive: the promotions after it do not apply.":
        "โปรโมชัน “%(name)s” เป็นโปรโมชันเฉพาะ: โปรโมชันที่อยู่ถัดไปจะไม่ถูกใช้",
    "Tier %(tier)s earns ×%(multiplier)s: +%(points)s points.":
        "ระดับ %(tier)s ได้แต้ม ×%(multiplier)s: +%(points)s แต้ม",
    "Total: %(base)s base + %(tier)s tier + %(bonus)s promotions = %(points)s %(currency)s.":
        "รวม: พื้นฐาน %(base)s + ระดับสมาชิก %(tier)s + โปรโมชัน %(bonus)s = %(points)s %(currency)s",
    # loyalty/admin_rules.py: how rules and promotions stack
    "A bill without lines is one line of its total. Lines that do not add up to the total are scaled pro rata to it.":
        "บิลที่ไม่มีรายการสินค้านับยอดรวมเป็นหนึ่งรายการ หากรายการสินค้ารวมกันไม่เท่ายอดบิล "
        "จะปรับยอดแต่ละรายการตามสัดส่วนให้เท่ายอดบิล",
    "Each line earns at the most specific active rule that matches it: SKU, then category, then channel, then "
    "branch, then the base rate. A rule applies only when the bill reaches its minimum. A rule of 0 points "
    "excludes what it matches.":
        "แต่ละรายการได้แต้มตามกติกาที่เจาะจงที่สุดที่ตรงกับรายการ: SKU ก่อน แล้วหมวดสินค้า ช่องทาง สาขา "
        "และอัตราพื้นฐานตามลำดับ กติกาจะใช้เมื่อยอดบิลถึงขั้นต่ำเท่านั้น กติกาที่ให้ 0 แต้มจะไม่ให้แต้มกับสิ่งที่ตรง",
    "Rounding follows the brand's earn policy (down by default): on the bill (add the exact line values, round "
    "once) or per line (round each line, then add).":
        "การปัดเศษเป็นไปตามนโยบายการสะสมแต้มของแบรนด์ (ปัดลงโดยค่าเริ่มต้น): ทั้งบิล (รวมค่าที่แท้จริงของแต่ละรายการ "
        "แล้วปัดครั้งเดียว) หรือทีละรายการ (ปัดแต่ละรายการแล้วค่อยรวม)",
    "The member's tier multiplier adds base points × (multiplier − 1).":
        "ตัวคูณของระดับสมาชิกเพิ่มแต้มพื้นฐาน × (ตัวคูณ − 1)",
    "Promotions then apply by priority (lower first), then by age. A promotion applies when its dates, days of "
    "week and hours (Bangkok time; a window such as 22:00–02:00 belongs to the day it starts), tiers, branches, "
    "channels and minimum bill all fit.":
        "จากนั้นใช้โปรโมชันตามลำดับความสำคัญ (เลขน้อยก่อน) แล้วตามลำดับที่สร้าง โปรโมชันจะใช้เมื่อช่วงวันที่ "
        "วันในสัปดาห์และช่วงเวลา (เวลากรุงเทพฯ ช่วงเวลาอย่าง 22:00–02:00 นับเป็นของวันที่เริ่ม) ระดับสมาชิก สาขา "
        "ช่องทาง และยอดบิลขั้นต่ำตรงทั้งหมด",
    "Multiplier: base points of the matching lines × (multiplier − 1). Bill bonus: the bonus once (with SKUs or "
    "categories chosen, only when one of them is on the bill). Item bonus: the bonus for each unit of the "
    "matching lines. A bill of 0 THB gets no promotion points.":
        "ตัวคูณ: แต้มพื้นฐานของรายการที่ตรง × (ตัวคูณ − 1) โบนัสต่อบิล: ได้โบนัสหนึ่งครั้ง "
        "(หากเลือก SKU หรือหมวดสินค้าไว้ บิลต้องมีสินค้านั้นอย่างน้อยหนึ่งรายการ) "
        "โบนัสต่อชิ้น: ได้โบนัสทุกชิ้นของรายการที่ตรง บิล 0 บาทไม่ได้แต้มโปรโมชัน",
    "Caps: first the promotion's cap per bill, then its cap per member per day, week (Monday to Sunday), month or "
    "the whole promotion (a window such as 22:00–02:00 counts in the day it starts), then the brand's cap on all "
    "promotion points of one bill.":
        "เพดานแต้ม: เพดานต่อบิลของโปรโมชันก่อน แล้วเพดานต่อสมาชิกต่อวัน สัปดาห์ (จันทร์ถึงอาทิตย์) เดือน "
        "หรือตลอดโปรโมชัน (ช่วงเวลาอย่าง 22:00–02:00 นับเป็นของวันที่เริ่ม) "
        "แล้วจึงเพดานของแบรนด์สำหรับแต้มโปรโมชันทั้งหมดในหนึ่งบิล",
    "An exclusive promotion that gives points stops every promotion after it.":
        "โปรโมชันเฉพาะที่ให้แต้มแล้วจะหยุดโปรโมชันทั้งหมดที่อยู่ถัดไป",
    # loyalty/admin_rules.py: forms and the preview page
    "The branch must belong to the rule's brand.": "สาขาต้องเป็นของแบรนด์เดียวกับกติกา",
    "The currency must belong to the brand or be shared with it.": "สกุลแต้มต้องเป็นของแบรนด์หรือแบ่งใช้กับแบรนด์นี้",
    "Earn rule preview": "ทดลองคำนวณแต้ม",
    "days of week": "วันในสัปดาห์",
    "None ticked: every day.": "ไม่เลือก: ทุกวัน",
    "channels": "ช่องทาง",
    "None ticked: every channel.": "ไม่เลือก: ทุกช่องทาง",
    "Every tier must belong to the promotion's brand.": "ทุกระดับสมาชิกต้องเป็นของแบรนด์เดียวกับโปรโมชัน",
    "Every branch must belong to the promotion's brand.": "ทุกสาขาต้องเป็นของแบรนด์เดียวกับโปรโมชัน",
    "The promotion must end after it starts.": "โปรโมชันต้องสิ้นสุดหลังวันเริ่ม",
    "date and time (Bangkok)": "วันและเวลา (กรุงเทพฯ)",
    "tier": "ระดับสมาชิก",
    "Or enter a member code below to use that member's tier and caps.":
        "หรือใส่รหัสสมาชิกด้านล่างเพื่อใช้ระดับและเพดานแต้มของสมาชิกคนนั้น",
    "bill lines": "รายการในบิล",
    "One line per row: SKU, category, quantity, amount (THB). For example: LATTE,coffee,2,130. Empty: the bill is "
    "one line of its total.":
        "หนึ่งรายการต่อบรรทัด: SKU, หมวดสินค้า, จำนวน, ยอดเงิน (บาท) เช่น LATTE,coffee,2,130 "
        "เว้นว่าง: นับยอดบิลเป็นหนึ่งรายการ",
    "bill total (THB)": "ยอดบิล (บาท)",
    "Empty: the sum of the lines.": "เว้นว่าง: ใช้ผลรวมของรายการ",
    "include inactive promotions": "รวมโปรโมชันที่ยังไม่เปิดใช้งาน",
    "See the effect of a promotion saved inactive before publishing it.":
        "ดูผลของโปรโมชันที่บันทึกไว้แบบยังไม่เปิดใช้งาน ก่อนเผยแพร่",
    "Choose one of the brand's own.": "กรุณาเลือกรายการของแบรนด์นี้",
    "Row %(number)s: enter SKU, category, quantity and amount, separated by commas.":
        "บรรทัดที่ %(number)s: ใส่ SKU, หมวดสินค้า, จำนวน และยอดเงิน คั่นด้วยเครื่องหมายจุลภาค",
    "Row %(number)s: the quantity must be a whole number and the amount a number.":
        "บรรทัดที่ %(number)s: จำนวนต้องเป็นจำนวนเต็มและยอดเงินต้องเป็นตัวเลข",
    "Row %(number)s: the quantity must be 1 or more and the amount 0 or more.":
        "บรรทัดที่ %(number)s: จำนวนต้องตั้งแต่ 1 ขึ้นไปและยอดเงินต้องตั้งแต่ 0 ขึ้นไป",
    "At most 100 lines.": "ได้ไม่เกิน 100 รายการ",
    "Row %(number)s: the amount must be at most %(maximum)s THB.":
        "บรรทัดที่ %(number)s: ยอดเงินต้องไม่เกิน %(maximum)s บาท",
    "The lines add up to more than %(maximum)s THB: enter a smaller bill.":
        "รายการรวมกันเกิน %(maximum)s บาท: กรุณาใส่บิลที่เล็กลง",
    # loyalty/templates/admin/loyalty/earn_*.html
    "Preview a bill": "ทดลองคำนวณบิล",
    "How earn rules and promotions stack": "กติกาการสะสมแต้มและโปรโมชันทำงานร่วมกันอย่างไร",
    "Enter a sample bill to see what it earns, line by line, with the active rules and promotions. Nothing is "
    "recorded.":
        "ใส่บิลตัวอย่างเพื่อดูแต้มที่จะได้ทีละรายการ ตามกติกาและโปรโมชันที่ใช้งานอยู่ ระบบจะไม่บันทึกอะไร",
    "Show points": "แสดงแต้ม",
    "This brand has no active earn rule: the bill earns nothing.":
        "แบรนด์นี้ยังไม่มีกติกาการสะสมแต้มที่ใช้งานอยู่: บิลนี้ไม่ได้แต้ม",
}
