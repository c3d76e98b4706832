/* Obelisk's OHIF configuration (generated from ohif/app-config.template.js).
 *
 * OHIF signs in with Obelisk as its OpenID Connect provider: the web app launches OHIF with a
 * one-time launch ticket (an HttpOnly cookie on the API), OHIF's own sign-in redirect reaches
 * Obelisk's /authorize with PKCE, and the code is exchanged at /token for a viewer token limited to
 * the launched study. No code or token is ever left in the viewer's URL. */
window.config = {
  name: 'obelisk',
  routerBasename: '/',
  extensions: [],
  modes: [],
  customizationService: {},
  showStudyList: false,
  maxNumberOfWebWorkers: 3,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: true,
  showLoadingIndicator: true,
  strictZSpacingForVolumeViewport: true,
  maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 25 },
  showErrorDetails: 'production',
  // Annotations are saved back (docs/report-providers.md): measurements drawn are tracked without a
  // prompt ('simplified', @ohif/app 3.13's modes: 'standard' asks "track this series?" first), and
  // the measurement panel's save stores a DICOM SR through STOW into the launched study with the
  // viewer token; an SR already in the study is offered again (hydrated) when the study is reopened.
  measurementTrackingMode: 'simplified',
  oidc: [
    {
      authority: '__API_URL__',
      client_id: 'ohif',
      redirect_uri: '/callback',
      silent_redirect_uri: '/silent-refresh.html',
      post_logout_redirect_uri: '/',
      response_type: 'code',
      scope: 'openid viewer',
      automaticSilentRenew: false,
      revokeAccessTokenOnSignout: false,
    },
  ],
  defaultDataSourceName: 'obelisk',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'obelisk',
      configuration: {
        friendlyName: 'Obelisk',
        name: 'obelisk',
        wadoUriRoot: '__API_URL__/wado',
        qidoRoot: '__API_URL__',
        wadoRoot: '__API_URL__',
        qidoSupportsIncludeField: true,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: true,
        supportsWildcard: true,
        staticWado: false,
        singlepart: 'bulkdata,video,pdf',
        bulkDataURI: { enabled: true, relativeResolution: 'studies' },
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
};

/* Who is signed in, always on screen: a viewer opened in someone else's session (a launch a
 * foreign page submitted) shows the wrong e-mail at once. OHIF's OpenID client keeps the signed-in
 * user (the ID token's claims, with the e-mail Obelisk verified) in sessionStorage. */
(function showSignedInUser() {
  function signedInEmail() {
    for (let i = 0; i < sessionStorage.length; i += 1) {
      const key = sessionStorage.key(i);
      if (!/^oidc\.user:/.test(key)) continue;
      try {
        const profile = JSON.parse(sessionStorage.getItem(key)).profile || {};
        if (profile.email) return profile.email;
      } catch (error) { /* not a user entry */ }
    }
    return '';
  }
  function render() {
    const email = signedInEmail();
    let badge = document.getElementById('obelisk-signed-in');
    if (!email) { if (badge) badge.remove(); return; }
    if (!badge) {
      badge = document.createElement('div');
      badge.id = 'obelisk-signed-in';
      badge.setAttribute('role', 'status');
      Object.assign(badge.style, { position: 'fixed', bottom: '4px', right: '8px', zIndex: '10000',
        padding: '2px 8px', borderRadius: '4px', background: '#0b1a42', color: '#fff',
        font: '13px sans-serif', pointerEvents: 'none' });
      document.body.appendChild(badge);
    }
    const text = 'Signed in as ' + email;
    if (badge.textContent !== text) badge.textContent = text;
    if (!document.title.includes(email)) document.title = email + ' \u2013 OHIF (Obelisk)';
  }
  setInterval(function () { if (document.body) render(); }, 1000);
})();
