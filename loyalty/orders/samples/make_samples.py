"""Regenerate the sample marketplace exports in this folder (they are committed; run after editing).

    .venv/bin/python loyalty/orders/samples/make_samples.py

The files imitate the seller centres' exports (one row per item, order columns repeated,
masked buyer phones, TikTok Shop's row of column descriptions). Phones 081-234-5671..3
are the demo members of ``manage.py seed_demo``; 089-999-0000 is its pending phone-only
member; 089-123-4567 is nobody yet (the order waits until someone registers with it).
"""

import csv
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

SHOPEE_HEADER = [
    "Order ID", "Order Status", "Return / Refund Status", "Tracking Number*", "Order Creation Date",
    "Order Paid Time", "Parent SKU Reference No.", "Product Name", "SKU Reference No.", "Variation Name",
    "Original Price", "Deal Price", "Quantity", "Product Subtotal", "Grand Total", "Total Amount",
    "Username (Buyer)", "Receiver Name", "Phone Number", "Delivery Address", "Province", "Zip Code",
]
SHOPEE_ROWS = [
    ["261101A1B2C3D4", "Completed", "", "TH2611011234567", "2026-11-01 09:12", "2026-11-01 09:13", "COF",
     "กาแฟคั่วเข้ม 250 ก.", "COF-DARK-250", "คั่วเข้ม", "390.00", "350.00", 1, "350.00", "840.00", "800.00",
     "somchai.j", "สมชาย ใจดี", "0812345671", "99/1 ถ.พระราม 1 ปทุมวัน", "กรุงเทพมหานคร", "10330"],
    ["261101A1B2C3D4", "Completed", "", "TH2611011234567", "2026-11-01 09:12", "2026-11-01 09:13", "CUP",
     "แก้วเก็บความเย็น Taem", "CUP-TUMBLER", "สีเขียว", "490.00", "450.00", 1, "450.00", "840.00", "800.00",
     "somchai.j", "สมชาย ใจดี", "0812345671", "99/1 ถ.พระราม 1 ปทุมวัน", "กรุงเทพมหานคร", "10330"],
    ["261102B2C3D4E5", "Completed", "", "TH2611021234568", "2026-11-02 13:40", "2026-11-02 13:41", "TEA",
     "ชาไทยเย็น ผงชงพร้อมดื่ม", "TEA-THAI-500", "500 ก.", "1350.00", "1250.00", 1, "1250.00", "1250.00",
     "1250.00", "buyer_8812", "ผู้ซื้อ ไม่ระบุ", "******5672", "*****", "กรุงเทพมหานคร", "10400"],
    ["261103C3D4E5F6", "Completed", "", "TH2611031234569", "2026-11-03 18:05", "2026-11-03 18:06", "COF",
     "กาแฟดริปซอง (10 ซอง)", "COF-DRIP-10", "", "550.00", "500.00", 1, "500.00", "540.00", "500.00",
     "nok.s", "Nok Srisuk", "66812345672", "12 ซ.อารีย์ 4 พญาไท", "กรุงเทพมหานคร", "10400"],
    ["261104D4E5F6G7", "Cancelled", "", "", "2026-11-04 08:00", "", "COF", "กาแฟคั่วกลาง 250 ก.",
     "COF-MED-250", "คั่วกลาง", "390.00", "350.00", 1, "350.00", "350.00", "350.00", "malee.r", "มาลี รักแต้ม",
     "0812345673", "5 ถ.นิมมานเหมินท์", "เชียงใหม่", "50200"],
    ["261105E5F6G7H8", "To ship", "", "", "2026-11-05 20:30", "2026-11-05 20:31", "BAK", "คุกกี้เนยสด",
     "BAK-COOKIE", "กล่องเล็ก", "220.00", "200.00", 2, "400.00", "440.00", "400.00", "malee.r",
     "มาลี รักแต้ม", "0812345673", "5 ถ.นิมมานเหมินท์", "เชียงใหม่", "50200"],
    ["261106F6G7H8J9", "Completed", "", "TH2611061234570", "2026-11-06 11:11", "2026-11-06 11:12", "COF",
     "กาแฟคั่วเข้ม 1 กก.", "COF-DARK-1000", "", "1200.00", "1000.00", 1, "1000.00", "1000.00", "1000.00",
     "newbie", "ลูกค้าใหม่ ยังไม่สมัคร", "089-123-4567", "1 ถ.สุขุมวิท", "กรุงเทพมหานคร", "10110"],
    ["261107G7H8J9K1", "Completed", "", "TH2611071234571", "2026-11-07 10:00", "2026-11-07 10:01", "TEA",
     "ชาเขียวมัทฉะ", "TEA-MATCHA", "", "300.00", "250.00", 1, "250.00", "250.00", "1,2OO.OO",
     "typo", "พิมพ์ผิด", "0812345671", "99/1 ถ.พระราม 1", "กรุงเทพมหานคร", "10330"],
    ["261108H8J9K1L2", "Completed", "", "TH2611081234572", "2026-11-08 15:20", "2026-11-08 15:21", "BAK",
     "ขนมปังโฮลวีต", "BAK-BREAD", "", "180.00", "150.00", 2, "300.00", "300.00", "300.00", "pending.p",
     "ผู้ซื้อหน้าร้าน", "0899990000", "88 ถ.ลาดพร้าว", "กรุงเทพมหานคร", "10230"],
]
# A later export: one order refunded, one now completed, and an order already imported.
SHOPEE_UPDATE_ROWS = [
    SHOPEE_ROWS[0],
    SHOPEE_ROWS[1],
    [*SHOPEE_ROWS[3][:2], "Refund approved", *SHOPEE_ROWS[3][3:]],
    [*SHOPEE_ROWS[5][:1], "Completed", *SHOPEE_ROWS[5][2:]],
]

LAZADA_HEADER = [
    "orderItemId", "orderType", "lazadaId", "sellerSku", "lazadaSku", "createTime", "updateTime", "orderNumber",
    "customerName", "customerEmail", "shippingName", "shippingAddress", "shippingPhone", "shippingCity",
    "shippingPostCode", "payMethod", "paidPrice", "unitPrice", "shippingFee", "itemName", "variation",
    "trackingCode", "status",
]
LAZADA_ROWS = [
    ["9001001", "Normal", "L1001", "COF-DARK-250", "2233445566", "03 Nov 2026 10:15", "06 Nov 2026 16:00",
     "300100200300401", "มาลี ร.", "m***@gmail.com", "มาลี รักแต้ม", "5 ถ.นิมมานเหมินท์", "66812345673",
     "เชียงใหม่", "50200", "COD", "299.00", "329.00", "0.00", "กาแฟคั่วเข้ม 250 ก.", "คั่วเข้ม", "LZ001", "delivered"],
    ["9001002", "Normal", "L1001", "CUP-MINI", "2233445567", "03 Nov 2026 10:15", "06 Nov 2026 16:00",
     "300100200300401", "มาลี ร.", "m***@gmail.com", "มาลี รักแต้ม", "5 ถ.นิมมานเหมินท์", "66812345673",
     "เชียงใหม่", "50200", "COD", "199.00", "219.00", "0.00", "แก้วกาแฟมินิ", "สีขาว", "LZ001", "delivered"],
    ["9001003", "Normal", "L1002", "TEA-THAI-500", "2233445568", "04 Nov 2026 12:00", "08 Nov 2026 09:00",
     "300100200300402", "สมชาย ใ.", "", "สมชาย ใจดี", "99/1 ถ.พระราม 1", "0812345671", "กรุงเทพมหานคร",
     "10330", "CreditCard", "1000.00", "1100.00", "0.00", "ชาไทยเย็น ผงชงพร้อมดื่ม", "500 ก.", "LZ002",
     "delivered"],
    ["9001004", "Normal", "L1002", "BAK-COOKIE", "2233445569", "04 Nov 2026 12:00", "09 Nov 2026 09:00",
     "300100200300402", "สมชาย ใ.", "", "สมชาย ใจดี", "99/1 ถ.พระราม 1", "0812345671", "กรุงเทพมหานคร",
     "10330", "CreditCard", "200.00", "220.00", "0.00", "คุกกี้เนยสด", "กล่องเล็ก", "LZ002", "returned"],
    ["9001005", "Normal", "L1003", "COF-MED-250", "2233445570", "05 Nov 2026 08:30", "05 Nov 2026 09:00",
     "300100200300403", "Nok S.", "", "Nok Srisuk", "12 ซ.อารีย์ 4", "66812345672", "กรุงเทพมหานคร", "10400",
     "COD", "350.00", "390.00", "0.00", "กาแฟคั่วกลาง 250 ก.", "คั่วกลาง", "", "canceled"],
    ["9001006", "Normal", "L1004", "COF-DRIP-10", "2233445571", "09 Nov 2026 19:45", "09 Nov 2026 20:00",
     "300100200300404", "Nok S.", "", "Nok Srisuk", "12 ซ.อารีย์ 4", "66812345672", "กรุงเทพมหานคร", "10400",
     "CreditCard", "500.00", "550.00", "0.00", "กาแฟดริปซอง (10 ซอง)", "", "", "ready_to_ship"],
    ["9001007", "Normal", "L1005", "TEA-MATCHA", "2233445572", "10 Nov 2026 14:00", "13 Nov 2026 10:00",
     "300100200300405", "ลูกค้า อ.", "newshopper@example.com", "ลูกค้าออนไลน์", "7 ถ.เพชรบุรี", "66*****4567",
     "กรุงเทพมหานคร", "10400", "CreditCard", "750.00", "800.00", "0.00", "ชาเขียวมัทฉะ", "", "LZ005",
     "delivered"],
]

TIKTOK_HEADER = [
    "Order ID", "Order Status", "Order Substatus", "Cancelation/Return Type", "SKU ID", "Seller SKU",
    "Product Name", "Variation", "Quantity", "SKU Unit Original Price", "SKU Subtotal Before Discount",
    "SKU Subtotal After Discount", "Shipping Fee After Discount", "Order Amount", "Order Refund Amount",
    "Created Time", "Paid Time", "Buyer Username", "Recipient", "Phone #", "Province", "Payment Method",
    "Product Category",
]
TIKTOK_DESCRIPTIONS = [
    "Platform unique order ID.", "The current status of the order.", "The current substatus of the order.",
    "Cancellation or return type.", "Platform SKU ID.", "Seller SKU.", "Product name.", "Variation.",
    "SKU quantity.", "Original price of the SKU.", "Subtotal before discount.", "Subtotal after discount.",
    "Shipping fee after discount.", "Order amount paid by the buyer.", "Refunded amount.", "Order created time.",
    "Order paid time.", "Buyer username.", "Recipient.", "Recipient phone.", "Province.", "Payment method.",
    "Category.",
]
TIKTOK_ROWS = [
    ["577000111222333441", "Completed", "Completed", "", "1729001", "COF-DRIP-10", "กาแฟดริปซอง (10 ซอง)", "",
     "2", "445.00", "890.00", "890.00", "0.00", "890.00", "0.00", "11/02/2026 2:23:44 PM",
     "11/02/2026 2:24:10 PM", "nok.s", "Nok Srisuk", "(+66)812345672", "กรุงเทพมหานคร", "TrueMoney",
     "อาหารและเครื่องดื่ม"],
    ["577000111222333442", "Delivered", "Delivered", "Return/Refund", "1729002", "CUP-TUMBLER",
     "แก้วเก็บความเย็น Taem", "สีเขียว", "1", "600.00", "600.00", "600.00", "0.00", "1500.00", "300.00",
     "11/04/2026 9:05:00 AM", "11/04/2026 9:06:00 AM", "somchai.j", "สมชาย ใจดี", "(+66)812345671",
     "กรุงเทพมหานคร", "Credit card", "ของใช้ในบ้าน"],
    ["577000111222333442", "Delivered", "Delivered", "Return/Refund", "1729003", "COF-DARK-1000",
     "กาแฟคั่วเข้ม 1 กก.", "", "1", "900.00", "900.00", "900.00", "0.00", "1500.00", "300.00",
     "11/04/2026 9:05:00 AM", "11/04/2026 9:06:00 AM", "somchai.j", "สมชาย ใจดี", "(+66)812345671",
     "กรุงเทพมหานคร", "Credit card", "อาหารและเครื่องดื่ม"],
    ["577000111222333443", "Cancelled", "Cancelled", "Cancel", "1729004", "BAK-COOKIE", "คุกกี้เนยสด", "",
     "1", "220.00", "220.00", "200.00", "0.00", "200.00", "200.00", "11/05/2026 7:00:00 PM", "", "malee.r",
     "มาลี รักแต้ม", "(+66)812345673", "เชียงใหม่", "COD", "อาหารและเครื่องดื่ม"],
    ["577000111222333444", "Awaiting collection", "Awaiting collection", "", "1729005", "TEA-THAI-500",
     "ชาไทยเย็น ผงชงพร้อมดื่ม", "", "1", "350.00", "350.00", "320.00", "0.00", "320.00", "0.00",
     "11/10/2026 8:00:00 PM", "11/10/2026 8:01:00 PM", "malee.r", "มาลี รักแต้ม", "(+66)812345673",
     "เชียงใหม่", "COD", "อาหารและเครื่องดื่ม"],
    ["577000111222333445", "Completed", "Completed", "", "1729006", "TEA-MATCHA", "ชาเขียวมัทฉะ", "", "1",
     "300.00", "300.00", "280.00", "0.00", "280.00", "0.00", "11/12/2026 10:30:00 AM", "11/12/2026 10:31:00 AM",
     "buyer_x", "ผู้ซื้อ", "(+66)81*****73", "นนทบุรี", "Credit card", "อาหารและเครื่องดื่ม"],
]


def write_csv(name: str, header: list, rows: list) -> None:
    with (HERE / name).open("w", newline="", encoding="utf-8-sig") as handle:  # BOM: Excel opens Thai correctly
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_xlsx(name: str, header: list, rows: list) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "orders"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(HERE / name)


if __name__ == "__main__":
    write_xlsx("shopee_orders_sample.xlsx", SHOPEE_HEADER, SHOPEE_ROWS)
    write_csv("shopee_orders_update_sample.csv", SHOPEE_HEADER, SHOPEE_UPDATE_ROWS)
    write_csv("lazada_orders_sample.csv", LAZADA_HEADER, LAZADA_ROWS)
    write_csv("tiktok_orders_sample.csv", TIKTOK_HEADER, [TIKTOK_DESCRIPTIONS, *TIKTOK_ROWS])
    print("written to", HERE)
