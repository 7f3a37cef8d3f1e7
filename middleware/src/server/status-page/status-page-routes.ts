// Serves the status page: static HTML, JS and CSS from this directory, nothing from a CDN. The page holds no data
// of its own; it asks for the admin token and calls /admin/* with it, so serving it needs no authentication.
import path from 'node:path';
import express, { type Router } from 'express';

/** Kept beside this module; a compiled build must copy the folder next to the compiled file. */
export const statusPageAssetsDir = path.join(__dirname, 'assets');

// The page only talks to its own origin and runs only its own script: an injected string cannot run or leak.
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function statusPageRoutes(): Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    res.set({ 'Content-Security-Policy': contentSecurityPolicy, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' });
    next();
  });
  router.use(express.static(statusPageAssetsDir, { index: 'index.html', fallthrough: true, maxAge: 0 }));
  return router;
}
