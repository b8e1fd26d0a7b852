"""Thai translations for the expiry work; merged into TH by th_translations.py."""

TH = {
    "Points liability": "ภาระแต้มคงค้าง",
    "Points not yet spent or expired, by the month of their last valid day (Bangkok time), valued at each "
    "currency’s cost of one point.":
        "แต้มที่ยังไม่ถูกใช้หรือหมดอายุ แยกตามเดือนของวันสุดท้ายที่ใช้ได้ (เวลากรุงเทพฯ) "
        "คิดมูลค่าตามต้นทุนต่อแต้มของแต่ละสกุลแต้ม",
    "Brand": "แบรนด์",
    "All my brands": "ทุกแบรนด์ของฉัน",
    "Show": "แสดง",
    "Download CSV": "ดาวน์โหลด CSV",
    "Expiry month": "เดือนที่หมดอายุ",
    "Accounts": "บัญชี",
    "Value (THB)": "มูลค่า (บาท)",
    "Total at %(value)s THB a point": "รวม ที่ %(value)s บาทต่อแต้ม",
    "Never expires": "ไม่มีวันหมดอายุ",
    "No outstanding points.": "ไม่มีแต้มคงค้าง",
    "Total liability (THB)": "ภาระรวม (บาท)",
    "seconds": "วินาที",
}
