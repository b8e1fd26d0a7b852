// Per-page behaviour on signed-in pages: the member card's rotating QR and confirm dialogs.
function startPage() {
  const qr = document.querySelector('[data-refresh-url]');
  if (qr && window.TaemPortal) {
    window.TaemPortal.startQrRefresh(qr, qr.dataset.refreshUrl, Number(qr.dataset.seconds) || 60);
  }
  if (window.TaemPortal) window.TaemPortal.confirmForm('form[data-confirm]');
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', startPage, { once: true });
} else {
  startPage();
}
