"""Domain events of the receipts app, raised through ``loyalty.events`` (delivered on commit).

``RECEIPT_DECIDED(receipt_id, status)``: a receipt was approved or rejected (by the rules
or by staff). Subscribers: ``messaging.subscribers`` tells the member on LINE.
"""

RECEIPT_DECIDED = "receipt_decided"
