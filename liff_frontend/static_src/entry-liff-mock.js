// Test/offline LIFF SDK bundle (dist/liff-mock.js): the SDK plus the LIFF Mock plugin.
// Served only when settings.LIFF_MOCK is on; the page then calls liff.use(new LiffMockPlugin()).
import liff from '@line/liff';
import { LiffMockPlugin } from '@line/liff-mock';

window.liff = liff;
window.LiffMockPlugin = LiffMockPlugin;
