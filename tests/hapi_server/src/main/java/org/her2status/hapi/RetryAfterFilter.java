package org.her2status.hapi;

import java.io.IOException;
import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.FilterConfig;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletResponse;
import javax.servlet.http.HttpServletResponseWrapper;

/**
 * Replaces every {@code Retry-After} the server sends with a shorter one.
 *
 * <p>HAPI 6.6.1 answers each Bulk export status poll with a fixed {@code Retry-After: 120}.
 * This test server advances batch jobs every two seconds, so a client that honours the
 * header would wait two minutes for an export that is ready in seconds.
 */
final class RetryAfterFilter implements Filter {

  private static final String RETRY_AFTER = "Retry-After";

  private final String seconds;

  RetryAfterFilter(long seconds) {
    this.seconds = Long.toString(seconds);
  }

  @Override
  public void init(FilterConfig config) {}

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    chain.doFilter(request, new HttpServletResponseWrapper((HttpServletResponse) response) {
      @Override
      public void setHeader(String name, String value) {
        super.setHeader(name, RETRY_AFTER.equalsIgnoreCase(name) ? seconds : value);
      }

      @Override
      public void addHeader(String name, String value) {
        super.addHeader(name, RETRY_AFTER.equalsIgnoreCase(name) ? seconds : value);
      }
    });
  }

  @Override
  public void destroy() {}
}
