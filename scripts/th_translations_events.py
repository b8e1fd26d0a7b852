"""Thai translations for the domain-event dispatch work; merged into TH by th_translations.py."""

TH = {
    'events': 'เหตุการณ์',
    '[[event, payload], …] as events_dispatch takes them': '[[เหตุการณ์, ข้อมูล], …] ตามที่ events_dispatch รับ',
    'error': 'ข้อผิดพลาด',
    'parked at': 'พักไว้เมื่อ',
    'parked domain events': 'เหตุการณ์ที่พักไว้',
}
