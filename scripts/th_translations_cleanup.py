"""Thai translations for the cleanup work (cashier coupons with a minimum spend); merged into TH by th_translations.py."""

TH = {
    "Bill total (THB)": "ยอดบิล (บาท)",
    "Enter the bill total in baht.": "กรุณากรอกยอดบิลเป็นบาท",
    "Enter the bill total: this coupon needs a bill of at least %(minimum)s THB.":
        "กรุณากรอกยอดบิล: คูปองนี้ใช้ได้เมื่อยอดบิลอย่างน้อย %(minimum)s บาท",
}
