/** @jsxImportSource @kitajs/html */

/**
 * The sign-in form of a server started with `--auth-token`: a plain form post (no script, so it works under the
 * page's CSP and without JavaScript). `next` is where to go once signed in, already checked to be a local path.
 */
export function Login({ next, notice }: { next: string; notice?: string }) {
  return (
    <section class="landing login">
      <h1>Sign in</h1>
      {notice ? (
        <p class="notice warn" role="alert" safe>
          {notice}
        </p>
      ) : (
        <p>This stepstream server asks for its access token.</p>
      )}
      <form class="login-form" action="/login" method="post">
        <input type="hidden" name="next" value={next} />
        <label for="token">Access token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </section>
  )
}
