// Production LIFF SDK bundle (dist/liff.js): the npm SDK, never the CDN, and no mock code.
import liff from '@line/liff';

window.liff = liff;
