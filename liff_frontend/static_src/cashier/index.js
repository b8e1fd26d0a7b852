// The cashier page (/cashier/, templates/cashier/home.html): dist/cashier.js, loaded after portal.js.
//
// - forms[data-device-time]: their hidden device_time input gets the device's clock on submit.
// - #award[data-preview-url]: typing an #amount shows the points it earns in #preview
//   (GET <url>?amount=…, JSON {points: [{currency, name, points}]} or 400 {error: {message}}).
// - [data-target] scan buttons: the rear camera in #scanner (html5-qrcode, bundled from npm);
//   the first QR read stops the camera, goes into the target form's qr/code input, and submits.
//   #scanner[data-state] is starting | scanning | decoded.
// - Submit buttons with data-confirm: their form is bound to TaemPortal.confirmForm too.
// - <body data-cashier-ready="1"> once all of this is bound.
//
// Plain ES2019 (no optional chaining or ??).
import { Html5Qrcode } from 'html5-qrcode/esm/html5-qrcode.js';
import { Html5QrcodeSupportedFormats } from 'html5-qrcode/esm/core.js';

const TEXT = {
  en: {
    stop: 'Stop scanning',
    close: 'Close',
    earns: 'Earns',
    denied: 'The camera is blocked. Allow the camera for this site in the browser settings, or type the code.',
    nocamera: 'No camera could be started on this device. Type the code instead.',
  },
  th: {
    stop: 'หยุดสแกน',
    close: 'ปิด',
    earns: 'จะได้รับ',
    denied: 'ไม่ได้รับอนุญาตให้ใช้กล้อง โปรดอนุญาตกล้องสำหรับเว็บไซต์นี้ในการตั้งค่าเบราว์เซอร์ หรือพิมพ์รหัสแทน',
    nocamera: 'เปิดกล้องบนอุปกรณ์นี้ไม่ได้ โปรดพิมพ์รหัสแทน',
  },
};
const t = TEXT[(document.documentElement.lang || '').slice(0, 2) === 'en' ? 'en' : 'th'];

function stampDeviceTime(form) {
  const input = form.querySelector('input[name="device_time"]');
  if (input) input.value = new Date().toISOString();
}

function bindDeviceTime() {
  document.querySelectorAll('form[data-device-time]').forEach(function bind(form) {
    form.addEventListener('submit', function onSubmit() {
      stampDeviceTime(form);
    });
  });
}

function bindConfirm() {
  if (!window.TaemPortal) return;
  document.querySelectorAll('form [type="submit"][data-confirm]').forEach(function bind(button) {
    if (button.form && button.form.id) window.TaemPortal.confirmForm('#' + button.form.id);
  });
}

function bindPreview() {
  const form = document.querySelector('form[data-preview-url]');
  const amount = document.getElementById('amount');
  const out = document.getElementById('preview');
  if (!form || !amount || !out) return;
  let timer = null;
  let latest = 0;

  async function show(value, ticket) {
    let text = '';
    try {
      const url = form.dataset.previewUrl + '?amount=' + encodeURIComponent(value);
      const response = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      const data = await response.json();
      if (response.ok) {
        const lines = data.points.map(function line(p) {
          return p.points + ' ' + p.name;
        });
        text = lines.length ? t.earns + ' ' + lines.join(' · ') : '';
      } else if (data && data.error) {
        text = data.error.message;
      }
    } catch (error) {
      text = ''; // offline for a moment: no preview, the award itself still works
    }
    if (ticket === latest) out.textContent = text;
  }

  function onInput() {
    clearTimeout(timer);
    latest += 1;
    const ticket = latest;
    const value = amount.value.trim();
    if (!value) {
      out.textContent = '';
      return;
    }
    timer = setTimeout(function later() {
      show(value, ticket);
    }, 250);
  }

  amount.addEventListener('input', onInput);
  if (amount.value) onInput(); // typed before this script ran, or restored by the browser
}

function bindScanner() {
  const box = document.getElementById('scanner');
  const buttons = document.querySelectorAll('button[data-target]');
  if (!box || !buttons.length) return;
  const view = document.createElement('div');
  view.id = 'scanner-view';
  const message = document.createElement('p');
  message.className = 'alert';
  message.setAttribute('role', 'alert');
  message.hidden = true;
  const stop = document.createElement('button');
  stop.type = 'button';
  stop.className = 'secondary full';
  stop.id = 'scanner-stop';
  stop.style.marginTop = '8px';
  box.append(view, message, stop);
  let reader = null;

  function noop() {}

  // Stops the camera once it has started (a Stop pressed while it starts waits for it).
  function close() {
    const current = reader;
    reader = null;
    box.hidden = true;
    if (!current) return Promise.resolve();
    return current.started
      .then(function stopCamera() {
        return current.stop();
      })
      .catch(noop)
      .then(function cleared() {
        try {
          current.clear();
        } catch (error) {
          // already cleared
        }
      });
  }

  function fail(error) {
    close().then(function shown() {
      message.textContent = /NotAllowed|Permission|Security/i.test(String(error)) ? t.denied : t.nocamera;
      message.hidden = false;
      stop.textContent = t.close;
      box.hidden = false;
      view.hidden = true;
    });
  }

  function open(button) {
    const form = document.querySelector(button.dataset.target);
    if (!form) return;
    close().then(function start() {
      button.insertAdjacentElement('afterend', box); // the preview opens under the button pressed
      message.hidden = true;
      stop.textContent = t.stop;
      view.hidden = false;
      box.hidden = false;
      box.dataset.state = 'starting';
      const current = new Html5Qrcode('scanner-view', {
        formatsToSupport: [Html5QrcodeSupportedFormats.QR_CODE],
        verbose: false,
      });
      reader = current;
      let done = false;
      const config = {
        fps: 10,
        qrbox: function size(width, height) {
          const side = Math.max(120, Math.floor(Math.min(width, height) * 0.8));
          return { width: side, height: side };
        },
      };
      function decoded(text) {
        if (done || reader !== current) return;
        done = true;
        box.dataset.state = 'decoded';
        close().then(function submit() {
          const input = form.querySelector('input[name="qr"], input[name="code"]');
          input.value = text;
          if (form.requestSubmit) {
            form.requestSubmit();
          } else {
            stampDeviceTime(form);
            form.submit();
          }
        });
      }
      let started;
      try {
        started = current.start({ facingMode: 'environment' }, config, decoded, noop);
      } catch (error) {
        started = Promise.reject(error);
      }
      current.started = started.then(function running() {
        if (reader === current && !done) box.dataset.state = 'scanning';
      });
      current.started.catch(function failed(error) {
        if (reader === current) fail(error);
      });
    });
  }

  buttons.forEach(function bind(button) {
    button.addEventListener('click', function onClick() {
      open(button);
    });
  });
  stop.addEventListener('click', function onStop() {
    close();
  });
}

function start() {
  bindDeviceTime();
  bindConfirm();
  bindPreview();
  bindScanner();
  document.body.dataset.cashierReady = '1'; // for the browser tests
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', start, { once: true });
} else {
  start();
}
